"""The page's stylesheet and the two small scripts: clicking a [n] marker or a passage
(``CLICK_JS``, which tells the server through a hidden bridge component) and scrolling
the sources panel to the highlighted quote (``SCROLL_JS``)."""

CSS = """
.rag-answer-text { line-height: 1.55; }
a.rag-cite { display: inline-block; padding: 0 .2em; margin: 0 .05em; border-radius: .3em;
  background: var(--color-accent-soft, #e0e7ff); color: var(--link-text-color, #3730a3);
  font-weight: 600; font-size: .85em; text-decoration: none; cursor: pointer; }
a.rag-cite:hover { text-decoration: underline; }
.rag-cite-demo { font-weight: 600; }
.rag-file { font-family: var(--font-mono, monospace); font-size: .8em; opacity: .75; }
.rag-sources-line, .rag-closest ol, .rag-notes { margin: .5em 0 0 0; padding-left: 1.2em;
  font-size: .9em; }
.rag-sources-line { list-style: none; padding-left: 0; border-top: 1px solid
  var(--border-color-primary, #ddd); padding-top: .4em; }
.rag-closest-title { margin-top: .6em; font-weight: 600; }
.rag-snippet { font-size: .85em; opacity: .8; }
.rag-notes { opacity: .8; font-style: italic; }
.rag-cursor { animation: rag-blink 1s step-end infinite; }
@keyframes rag-blink { 50% { opacity: 0; } }
.rag-pending .rag-dots::after { content: "…"; animation: rag-blink 1s step-end infinite; }
.rag-error { color: var(--error-text-color, #b91c1c); }
.rag-sources { display: flex; flex-direction: column; gap: .5em; }
.rag-sources-head { font-weight: 600; text-align: left; }
.rag-view, .rag-details, .rag-docs { text-align: left; }
.rag-cards { display: flex; flex-direction: column; gap: .4em; }
a.rag-card { display: flex; flex-direction: column; align-items: flex-start;
  text-align: left; gap: .1em; padding: .5em .7em;
  border: 1px solid var(--border-color-primary, #ddd); border-radius: .5em;
  text-decoration: none; color: inherit; cursor: pointer; }
a.rag-card:hover, a.rag-card.rag-selected { border-color: var(--color-accent, #6366f1);
  background: var(--color-accent-soft, #eef2ff); }
.rag-card-n { font-weight: 700; }
.rag-card-title { font-weight: 600; }
.rag-card-date { font-size: .8em; opacity: .8; margin-left: .4em; }
.rag-card-quote { font-size: .85em; opacity: .85; }
.rag-view { border-top: 2px solid var(--color-accent, #6366f1); padding-top: .5em; }
.rag-view-title { font-weight: 700; }
.rag-view-meta { font-size: .85em; display: flex; gap: .6em; flex-wrap: wrap; }
.rag-paragraph, .rag-article { white-space: pre-wrap; line-height: 1.55; }
.rag-paragraph { margin: .5em 0; padding: .5em .8em; border-left: 4px solid
  var(--color-accent, #6366f1); background: var(--background-fill-secondary, #f8fafc); }
mark.rag-quote, mark.rag-article-quote, mark.rag-passage-mark { background: #fde68a;
  color: #111; padding: 0 .1em; border-radius: .2em; }
.rag-full summary { cursor: pointer; font-weight: 600; }
.rag-article { max-height: 55vh; overflow: auto; padding: .5em .8em; border: 1px solid
  var(--border-color-primary, #ddd); border-radius: .4em; }
.rag-details table, .rag-docs table { width: 100%; border-collapse: collapse; font-size: .85em;
  margin-top: .5em; }
.rag-details th, .rag-details td, .rag-docs th, .rag-docs td { border-bottom: 1px solid
  var(--border-color-primary, #ddd); padding: .25em .4em; text-align: left; vertical-align: top; }
.rag-kv { margin: .2em 0; }
.rag-note { font-size: .9em; opacity: .85; }
.rag-badge { font-size: .75em; padding: 0 .4em; border-radius: .6em;
  background: var(--color-accent-soft, #e0e7ff); }
.rag-empty { opacity: .8; }
button.rag-copied { color: var(--color-accent, #6366f1); }
"""
"""Styles for the classes above; the app passes them to ``launch(css=...)``."""

CLICK_JS = r"""
(() => {
  // Citation markers, source cards and passage links are <a href="#rag-..."> links:
  // send "<kind>-<turn>-<n>|<nonce>" to the app instead of navigating.
  const onClick = (e) => {
    const t = e.target;
    if (!t || !t.closest) return;
    const a = t.closest('a[href^="#rag-"]');
    if (a) {
      const m = /^#rag-(cite|passage)-(\d+)-(\d+)$/.exec(a.getAttribute('href') || '');
      if (!m) return;
      e.preventDefault();
      e.stopPropagation();
      props.value = `${m[1]}-${m[2]}-${m[3]}|${Date.now()}`;
      trigger('change');
      return;
    }
    // The chat's copy button copies the message's text, not its HTML.
    const b = t.closest('button[aria-label="Copy message"]');
    if (!b) return;
    let box = b.closest('.message-buttons') || b.parentElement;
    let msg = null;
    for (let s = box; s && !msg; s = s.previousElementSibling) {
      const found = s.matches && s.matches('[data-testid="bot"], [data-testid="user"]')
        ? [s] : (s.querySelectorAll ? s.querySelectorAll('[data-testid="bot"], [data-testid="user"]') : []);
      if (found.length) msg = found[found.length - 1];
    }
    if (!msg || !navigator.clipboard) return;  // let the chat copy as usual
    const part = msg.querySelector('.rag-answer-text') || msg;
    e.preventDefault();
    e.stopPropagation();
    navigator.clipboard.writeText(part.innerText.trim()).then(() => {
      b.classList.add('rag-copied');
      b.setAttribute('title', 'Copied');
      setTimeout(() => { b.classList.remove('rag-copied'); b.setAttribute('title', 'Copy message'); }, 1500);
    });
  };
  // Opening the full article scrolls it to the quoted span.
  const onToggle = (e) => {
    const d = e.target;
    if (d && d.matches && d.matches('details.rag-full') && d.open) {
      const m = d.querySelector('#rag-article-quote');
      if (m) m.scrollIntoView({ block: 'center' });
    }
  };
  if (window.__ragClick) document.removeEventListener('click', window.__ragClick, true);
  if (window.__ragToggle) document.removeEventListener('toggle', window.__ragToggle, true);
  window.__ragClick = onClick;
  window.__ragToggle = onToggle;
  document.addEventListener('click', onClick, true);
  document.addEventListener('toggle', onToggle, true);
})();
"""
"""``js_on_load`` of the app's hidden bridge component (``props``/``trigger`` are Gradio's)."""

SCROLL_JS = r"""
watch('value', () => {
  const v = element.querySelector('.rag-view');
  if (v) v.scrollIntoView({ block: 'nearest' });
});
"""
"""``js_on_load`` of the sources panel: bring a newly selected source into view."""
