// markdown.js renders the small Markdown subset of tenant notes into DOM
// nodes: headings (#, ##, ###), paragraphs, "-" or "*" lists, **bold**,
// *italic*, `code` and [links](https://…). It never parses HTML: every
// piece of text becomes a text node (so "<img onerror=…>" shows as text),
// and a link is made only for http: and https: URLs, so the board's strict
// CSP (no inline script) is never the only line of defence.
'use strict';

(function () {
  function inline(parent, text) {
    // One pass, left to right: the earliest token wins.
    const re = /\*\*([^*]+)\*\*|\*([^*]+)\*|`([^`]+)`|\[([^\]]+)\]\(([^)\s]+)\)/g;
    let last = 0;
    let m;
    while ((m = re.exec(text)) !== null) {
      if (m.index > last) parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      if (m[1] !== undefined) {
        const b = document.createElement('strong');
        b.textContent = m[1];
        parent.appendChild(b);
      } else if (m[2] !== undefined) {
        const i = document.createElement('em');
        i.textContent = m[2];
        parent.appendChild(i);
      } else if (m[3] !== undefined) {
        const c = document.createElement('code');
        c.textContent = m[3];
        parent.appendChild(c);
      } else {
        let url = null;
        try {
          const u = new URL(m[5]);
          if (u.protocol === 'https:' || u.protocol === 'http:') url = u.href;
        } catch (e) {
          url = null;
        }
        if (url) {
          const a = document.createElement('a');
          a.href = url;
          a.rel = 'noopener noreferrer';
          a.target = '_blank';
          a.textContent = m[4];
          parent.appendChild(a);
        } else {
          parent.appendChild(document.createTextNode(m[0]));
        }
      }
      last = re.lastIndex;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  // render returns a DocumentFragment for the Markdown source.
  function render(src) {
    const out = document.createDocumentFragment();
    const lines = String(src || '').replace(/\r\n?/g, '\n').split('\n');
    let para = [];
    let list = null;
    const flush = () => {
      if (para.length) {
        const p = document.createElement('p');
        inline(p, para.join(' '));
        out.appendChild(p);
        para = [];
      }
    };
    for (const raw of lines) {
      const line = raw.trimEnd();
      const h = /^(#{1,3})\s+(.*)$/.exec(line);
      const li = /^\s*[-*]\s+(.*)$/.exec(line);
      if (h) {
        flush();
        list = null;
        const el = document.createElement('h' + (h[1].length + 3)); // h4..h6 under the page's h3
        inline(el, h[2]);
        out.appendChild(el);
      } else if (li) {
        flush();
        if (!list) {
          list = document.createElement('ul');
          out.appendChild(list);
        }
        const item = document.createElement('li');
        inline(item, li[1]);
        list.appendChild(item);
      } else if (line.trim() === '') {
        flush();
        list = null;
      } else {
        list = null;
        para.push(line.trim());
      }
    }
    flush();
    return out;
  }

  window.pgwMarkdown = { render };
})();
