// The administrators' BPMN editor (bpmn-js Modeler, bundled; nothing loaded from outside) and a
// read-only viewer with markers for the versions pages.
//
//   <div data-bpmn-modeler data-source=… data-validate=… data-draft=… data-deploy=…> … </div>
//   <div data-bpmn-view data-src=… data-markers='{"gf-added": ["id"], …}'></div>
//
// The editor validates as you edit: each change is sent (debounced) to the server, which runs the
// deploy validator and answers with one sentence per offending element; the element is outlined
// and the sentence is shown on it, and listed under the diagram.
import Modeler from "bpmn-js/lib/Modeler";
import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";

import { PropertiesPanel } from "./modeler/panel.js";
import spiffworkflow from "./modeler/spiffworkflow-moddle.js";
import translateZh from "./modeler/translations-zh.js";

const VALIDATE_DELAY_MS = 700;

function json(element) {
  try {
    return JSON.parse(element.textContent || element.dataset.markers || "{}");
  } catch (err) {
    return {};
  }
}

async function post(url, body, csrf, contentType = "application/xml") {
  const response = await fetch(url, {
    method: "POST", credentials: "same-origin", body,
    headers: { "Content-Type": contentType, "X-CSRFToken": csrf, Accept: "application/json" },
  });
  let payload = {};
  try {
    payload = await response.json();
  } catch (err) {
    payload = { problems: [{ message: `HTTP ${response.status}` }] };
  }
  return { ok: response.ok, status: response.status, payload };
}

class Editor {
  constructor(root, vocabulary) {
    this.root = root;
    this.vocab = vocabulary;
    this.L = vocabulary.labels;
    this.csrf = root.dataset.csrf;
    this.canvasNode = root.querySelector("[data-modeler-canvas]");
    this.status = root.querySelector("[data-modeler-status]");
    this.problemList = root.querySelector("[data-modeler-problems]");
    const modules = vocabulary.lang === "zh" ? [{ translate: ["value", translateZh] }] : [];
    this.modeler = new Modeler({
      container: this.canvasNode,
      moddleExtensions: { spiffworkflow },
      additionalModules: modules,
    });
    this.panel = new PropertiesPanel(this.modeler, root.querySelector("[data-modeler-panel]"), vocabulary);
    this.dirty = false;
    this.timer = null;
    this.sequence = 0;
    this.modeler.get("eventBus").on("commandStack.changed", () => {
      this.dirty = true;
      this.setStatus(this.L.unsaved);
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.validate(), VALIDATE_DELAY_MS);
    });
    root.querySelector("[data-action=validate]")?.addEventListener("click", () => this.validate());
    root.querySelector("[data-action=save]")?.addEventListener("click", () => this.saveDraft());
    root.querySelector("[data-action=download]")?.addEventListener("click", () => this.download());
    root.querySelector("[data-action=deploy]")?.addEventListener("click", () => this.deploy());
    window.addEventListener("beforeunload", (event) => {
      if (this.dirty) {
        event.preventDefault();
        event.returnValue = "";
      }
    });
  }

  setStatus(text, kind = "") {
    if (!this.status) return;
    this.status.textContent = text;
    this.status.className = `gf-status ${kind}`;
  }

  async open() {
    const response = await fetch(this.root.dataset.source, { credentials: "same-origin" });
    if (!response.ok) throw new Error(`diagram ${response.status}`);
    await this.modeler.importXML(await response.text());
    this.modeler.get("canvas").zoom("fit-viewport");
    this.root.dataset.ready = "true";
    await this.validate();
  }

  async xml() {
    const { xml } = await this.modeler.saveXML({ format: true });
    return xml;
  }

  async validate() {
    clearTimeout(this.timer);
    const ticket = ++this.sequence;
    this.root.dataset.validating = "true";
    const { payload } = await post(this.root.dataset.validate, await this.xml(), this.csrf);
    if (ticket !== this.sequence) return; // a newer edit is being checked
    this.showProblems(payload.problems || []);
    this.root.dataset.validating = "false";
    this.root.dataset.validated = String(ticket);
  }

  showProblems(problems) {
    const canvas = this.modeler.get("canvas");
    const overlays = this.modeler.get("overlays");
    const registry = this.modeler.get("elementRegistry");
    overlays.remove({ type: "gf-problem" });
    for (const element of registry.getAll()) canvas.removeMarker(element, "gf-invalid");
    this.problemList.replaceChildren();
    this.root.dataset.problems = String(problems.length);
    if (!problems.length) {
      this.problemList.append(Object.assign(document.createElement("p"), {
        className: "gf-ok", textContent: this.L.valid,
      }));
      return;
    }
    for (const problem of problems) {
      const element = problem.element_id ? registry.get(problem.element_id) : null;
      const item = document.createElement("li");
      item.textContent = problem.message;
      item.dataset.testid = "problem";
      if (element) {
        item.dataset.elementId = element.id;
        item.classList.add("gf-link");
        item.addEventListener("click", () => {
          this.modeler.get("selection").select(element);
          canvas.scrollToElement(element);
        });
        canvas.addMarker(element, "gf-invalid");
        const note = document.createElement("div");
        note.className = "gf-problem-note";
        note.textContent = problem.message;
        note.dataset.testid = "problem-on-element";
        overlays.add(element, "gf-problem", {
          position: element.waypoints ? { top: -8, left: 8 } : { bottom: -6, left: 0 },
          html: note,
        });
      } else {
        item.dataset.testid = "problem-general";
      }
      this.problemList.append(item);
    }
  }

  async saveDraft() {
    const { ok, payload } = await post(this.root.dataset.draft, await this.xml(), this.csrf);
    if (ok) {
      this.dirty = false;
      this.setStatus(payload.message, "ok");
    } else {
      this.setStatus(payload.message || this.L.failed, "error");
      if (payload.problems) this.showProblems(payload.problems);
    }
  }

  async download() {
    const blob = new Blob([await this.xml()], { type: "application/xml" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `${this.root.dataset.key}.bpmn`;
    link.click();
    URL.revokeObjectURL(link.href);
  }

  async deploy() {
    const note = this.root.querySelector("[data-deploy-note]");
    if (!note.value.trim()) {
      this.setStatus(this.L.note_required, "error");
      note.focus();
      return;
    }
    const body = JSON.stringify({ xml: await this.xml(), note: note.value.trim() });
    const { ok, payload } = await post(this.root.dataset.deploy, body, this.csrf, "application/json");
    if (ok) {
      this.dirty = false;
      note.value = "";
      this.setStatus(payload.message, "ok");
      this.root.dataset.deployedVersion = String(payload.version);
    } else {
      this.setStatus(payload.message || this.L.failed, "error");
      if (payload.problems) this.showProblems(payload.problems);
    }
  }
}

async function view(element) {
  const viewer = new NavigatedViewer({ container: element });
  const response = await fetch(element.dataset.src, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`diagram ${response.status}`);
  await viewer.importXML(await response.text());
  const canvas = viewer.get("canvas");
  const registry = viewer.get("elementRegistry");
  for (const [marker, ids] of Object.entries(json(element))) {
    for (const id of ids) if (registry.get(id)) canvas.addMarker(id, marker);
  }
  canvas.zoom("fit-viewport");
  element.dataset.rendered = "true";
  return viewer;
}

window.GovFlowModeler = { Editor, view };
document.addEventListener("DOMContentLoaded", () => {
  for (const element of document.querySelectorAll("[data-bpmn-view]")) {
    view(element).catch((err) => {
      element.dataset.rendered = "error";
      element.textContent = element.dataset.errorText || String(err);
    });
  }
  const root = document.querySelector("[data-bpmn-modeler]");
  if (root) {
    const vocabulary = JSON.parse(document.getElementById("gf-vocabulary").textContent);
    const editor = new Editor(root, vocabulary);
    window.govflowEditor = editor; // for the browser test's drag-free element creation
    editor.open().catch((err) => {
      root.dataset.ready = "error";
      editor.setStatus(`${vocabulary.labels.load_failed}${err.message}`, "error");
    });
  }
});
