// A type-only stand-in for @nestjs/common, enough to type-check the NestJS
// example of the README (the real framework is too heavy a dev dependency
// for one decorator). Signature as in @nestjs/common 10/11.
declare module '@nestjs/common' {
  export function Injectable(options?: { scope?: unknown; durable?: boolean }): ClassDecorator;
}
