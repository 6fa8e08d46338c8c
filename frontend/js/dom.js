// DOM helpers. Every piece of text goes in through textContent or a text node, never through
// innerHTML, so nothing a user or the API wrote can become markup.

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * Creates an element. `props`: `class` (string or list), `text`, `on<Event>` handlers,
 * `dataset`, and any other key as an attribute (`true` → present, `false`/`null` → absent).
 * Children: nodes, strings (as text), arrays, and null/undefined/false (skipped).
 */
export function h(tag, props, ...children) {
  const element = document.createElement(tag);
  applyProps(element, props);
  append(element, children);
  return element;
}

/** An SVG element (icons); same props as `h`. */
export function svg(tag, props, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  applyProps(element, props);
  append(element, children);
  return element;
}

function applyProps(element, props) {
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') {
      const names = Array.isArray(value) ? value.filter(Boolean).join(' ') : value;
      if (names) element.setAttribute('class', names);
    } else if (key === 'text') {
      element.textContent = String(value);
    } else if (key === 'dataset') {
      Object.assign(element.dataset, value);
    } else if (key.startsWith('on') && typeof value === 'function') {
      element.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'href' || key === 'src' || key === 'action') {
      element.setAttribute(key, safeUrl(value));
    } else {
      element.setAttribute(key, value === true ? '' : String(value));
    }
  }
}

/** Appends children (see `h`) to `parent`. */
export function append(parent, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Replaces everything in `parent` with `children`. */
export function replace(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

/** Only relative, http(s), blob and mailto URLs go into links: never `javascript:` or `data:`. */
export function safeUrl(value) {
  const text = String(value);
  const url = new URL(text, location.href);
  if (!['http:', 'https:', 'blob:', 'mailto:'].includes(url.protocol)) {
    throw new Error(`refusing a ${url.protocol} URL`);
  }
  return text;
}

/** A small inline icon from one or more SVG path strings (24×24 grid, stroked). */
export function icon(name) {
  const paths = ICONS[name] ?? [];
  return svg(
    'svg',
    { class: `icon icon-${name}`, viewBox: '0 0 24 24', 'aria-hidden': 'true', focusable: 'false' },
    paths.map((d) => svg('path', { d })),
  );
}

const ICONS = {
  calendar: ['M7 3v3M17 3v3M4 9h16', 'M5 5h14a1 1 0 0 1 1 1v13a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1V6a1 1 0 0 1 1-1z'],
  pin: ['M12 21s-7-6.2-7-11.5A7 7 0 0 1 19 9.5C19 14.8 12 21 12 21z', 'M12 12a2.5 2.5 0 1 0 0-5 2.5 2.5 0 0 0 0 5z'],
  seat: ['M6 11V6a2 2 0 0 1 2-2h8a2 2 0 0 1 2 2v5', 'M4 11h16v5H4z', 'M6 16v4M18 16v4'],
  tag: ['M3 12V4h8l10 10-8 8z', 'M7.5 8.5h.01'],
  ticket: ['M3 8a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2v2a2 2 0 0 0 0 4v2a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-2a2 2 0 0 0 0-4z', 'M15 6v12'],
  download: ['M12 4v11', 'M7 10l5 5 5-5', 'M5 20h14'],
  check: ['M5 12.5l4.5 4.5L19 7.5'],
  cross: ['M6 6l12 12M18 6L6 18'],
  alert: ['M12 3l10 18H2z', 'M12 10v5M12 18h.01'],
  clock: ['M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18z', 'M12 7v5l3 3'],
  camera: ['M4 8h3l2-3h6l2 3h3a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V9a1 1 0 0 1 1-1z', 'M12 17a4 4 0 1 0 0-8 4 4 0 0 0 0 8z'],
  plus: ['M12 5v14M5 12h14'],
  back: ['M15 5l-7 7 7 7'],
  users: ['M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8z', 'M2 21v-1a6 6 0 0 1 6-6h2a6 6 0 0 1 6 6v1', 'M16 3.5a4 4 0 0 1 0 7.5M19 14a5 5 0 0 1 3 5v2'],
  scan: ['M4 8V5a1 1 0 0 1 1-1h3M16 4h3a1 1 0 0 1 1 1v3M20 16v3a1 1 0 0 1-1 1h-3M8 20H5a1 1 0 0 1-1-1v-3', 'M4 12h16'],
};

/** Sets the page title (the tab's and, for screen readers, announced on focus). */
export function setTitle(text) {
  document.title = text ? `${text} · Ticketd` : 'Ticketd';
}
