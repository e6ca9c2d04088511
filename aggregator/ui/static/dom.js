// Small DOM helpers shared by the pages. Text always goes in as text, never as HTML.

/** Create an element: h("a", {href: "..."}, "text", child, ...). Null children are skipped. */
export function h(tag, attributes = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== null && value !== undefined && value !== false) el.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === "") continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Put the network's name (from its Beacon info) in the header; keeps the default on failure. */
export async function loadNetworkName() {
  let name = null;
  try {
    const response = await fetch("/info", { headers: { Accept: "application/json" } });
    if (response.ok) {
      const body = await response.json();
      name = body?.response?.name ?? null;
    }
  } catch (err) {
    if (!(err instanceof TypeError) && !(err instanceof SyntaxError)) throw err;
  }
  if (!name) return;
  for (const el of document.querySelectorAll("[data-network-name]")) el.textContent = name;
  document.title = document.title.replace("Beacon network", name);
}
