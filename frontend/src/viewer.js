// Read-only process diagram: <div data-bpmn-viewer data-src="…xml" data-completed='["id"]'
// data-current='["id"]'> shows the diagram with completed and current steps highlighted.
import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";

function ids(element, name) {
  try {
    return JSON.parse(element.dataset[name] || "[]");
  } catch (err) {
    return [];
  }
}

async function show(element) {
  const viewer = new NavigatedViewer({ container: element });
  const response = await fetch(element.dataset.src, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`diagram ${response.status}`);
  await viewer.importXML(await response.text());
  const canvas = viewer.get("canvas");
  const registry = viewer.get("elementRegistry");
  for (const [name, marker] of [["completed", "gf-completed"], ["current", "gf-current"]]) {
    for (const id of ids(element, name)) {
      if (registry.get(id)) canvas.addMarker(id, marker);
    }
  }
  canvas.zoom("fit-viewport");
  element.dataset.rendered = "true";
  return viewer;
}

window.GovFlowViewer = { show };
document.addEventListener("DOMContentLoaded", () => {
  for (const element of document.querySelectorAll("[data-bpmn-viewer]")) {
    show(element).catch((err) => {
      element.dataset.rendered = "error";
      element.textContent = element.dataset.errorText || String(err);
    });
  }
});
