// GovFlow's properties panel: only what the engine reads from a diagram (engine/parsing.py).
//   lane → role (the lane id is the role key), user task → outcomes / form / assignee=starter,
//   service task → registered handler and its parameters, timer events → calendar expressions,
//   sequence flows → conditions, any element → documentation with rule IDs (REV-3, ACC-2 …).
// Plain DOM, no framework: every input is a <label>ed control, changed through bpmn-js's
// modeling commands so undo/redo and "validate as you edit" see each change.
import { getBusinessObject, is } from "bpmn-js/lib/util/ModelUtil";

const TIMER_KINDS = ["timeDate", "timeDuration", "timeCycle"];

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) if (child) node.append(child);
  return node;
}

function field(label, control, hint) {
  return el("label", { class: "gf-field" }, el("span", { text: label }), control,
    hint ? el("small", { class: "gf-hint", text: hint }) : null);
}

function select(options, value, onchange, testid) {
  const node = el("select", { onchange: (event) => onchange(event.target.value), "data-testid": testid });
  for (const [key, label] of options) {
    node.append(el("option", { value: key, text: label, selected: key === value }));
  }
  return node;
}

function input(value, onchange, attrs = {}) {
  return el("input", { value: value || "", onchange: (event) => onchange(event.target.value.trim()), ...attrs });
}

export function parseOutcomes(text) {
  return (text || "").split(",").map((part) => part.trim()).filter(Boolean).map((part) => {
    const [key, ...rest] = part.split(":");
    return { key: key.trim(), label: rest.join(":").trim() };
  });
}

export function formatOutcomes(rows) {
  return rows.filter((row) => row.key).map((row) => (row.label ? `${row.key}:${row.label}` : row.key)).join(",");
}

export class PropertiesPanel {
  constructor(modeler, container, vocabulary) {
    this.modeler = modeler;
    this.container = container;
    this.vocab = vocabulary;
    this.L = vocabulary.labels;
    this.element = null;
    const eventBus = modeler.get("eventBus");
    eventBus.on("selection.changed", ({ newSelection }) => this.show(newSelection[0] || null));
    eventBus.on("commandStack.changed", () => {
      // Re-read after undo/redo or a canvas edit, unless the user is typing in the panel.
      if (!this.container.contains(document.activeElement)) this.show(this.element);
    });
    this.show(null);
  }

  get modeling() { return this.modeler.get("modeling"); }
  get moddle() { return this.modeler.get("moddle"); }

  show(element) {
    const registry = this.modeler.get("elementRegistry");
    this.element = element && registry.get(element.id) ? registry.get(element.id) : null;
    this.container.replaceChildren(...this.render(this.element));
  }

  render(element) {
    const L = this.L;
    if (!element) {
      return [el("h3", { text: L.panel_title }), el("p", { class: "gf-hint", text: L.panel_none })];
    }
    const bo = getBusinessObject(element);
    const parts = [
      el("h3", { text: `${this.typeLabel(element)}` }),
      el("p", { class: "gf-hint", "data-testid": "panel-element-id", text: `id: ${bo.id}` }),
    ];
    if (is(element, "bpmn:Participant") && bo.processRef) {
      parts.push(field(L.process_name, input(bo.processRef.name, (v) => this.modeling.updateModdleProperties(
        element, bo.processRef, { name: v || undefined }), { "data-testid": "process-name" })));
    } else if (!is(element, "bpmn:Lane")) {
      parts.push(field(L.name, input(bo.name, (v) => this.modeling.updateLabel(element, v || null),
        { "data-testid": "element-name" })));
    }
    if (is(element, "bpmn:Lane")) parts.push(...this.laneFields(element, bo));
    if (is(element, "bpmn:UserTask") || is(element, "bpmn:ManualTask")) parts.push(...this.userTaskFields(element, bo));
    if (is(element, "bpmn:ServiceTask")) parts.push(...this.serviceFields(element, bo));
    const timer = (bo.eventDefinitions || []).find((d) => is(d, "bpmn:TimerEventDefinition"));
    if (timer) parts.push(...this.timerFields(element, bo, timer));
    if (is(element, "bpmn:SequenceFlow")) parts.push(...this.conditionFields(element, bo));
    if (!is(element, "bpmn:Label")) parts.push(...this.documentationFields(element, bo));
    return parts;
  }

  typeLabel(element) {
    const type = element.type.replace("bpmn:", "");
    return this.vocab.kinds[type] || type;
  }

  // --- lanes ------------------------------------------------------------------------------------
  laneFields(element, bo) {
    const L = this.L;
    const roles = this.vocab.roles;
    const current = roles[bo.id] ? bo.id : "";
    const message = el("p", { class: "gf-panel-error", "data-testid": "lane-role-error" });
    const options = [["", L.role_none], ...Object.entries(roles).map(([key, label]) => [key, `${label}（${key}）`])];
    const control = select(options, current, (role) => {
      if (!role) return;
      const registry = this.modeler.get("elementRegistry");
      const clash = registry.get(role);
      if (clash && clash !== element) {
        message.textContent = L.role_taken.replace("{role}", roles[role]);
        return;
      }
      const props = { id: role };
      if (!bo.name || Object.values(roles).includes(bo.name)) props.name = roles[role];
      this.modeling.updateProperties(element, props);
    }, "lane-role");
    return [field(L.lane_name, input(bo.name, (v) => this.modeling.updateLabel(element, v || null))),
      field(L.lane_role, control, L.lane_role_hint), message];
  }

  // --- user tasks -------------------------------------------------------------------------------
  property(bo, name) {
    const props = (bo.extensionElements?.values || []).find((v) => is(v, "spiffworkflow:Properties"));
    const found = (props?.values || []).find((p) => p.name === name);
    return found ? found.value : "";
  }

  setProperty(element, name, value) {
    const bo = getBusinessObject(element);
    const moddle = this.moddle;
    let ext = bo.extensionElements;
    if (!ext) {
      ext = moddle.create("bpmn:ExtensionElements", { values: [] });
      ext.$parent = bo;
      this.modeling.updateProperties(element, { extensionElements: ext });
    }
    let props = ext.values.find((v) => is(v, "spiffworkflow:Properties"));
    if (!props) {
      if (!value) return;
      props = moddle.create("spiffworkflow:Properties", { values: [] });
      props.$parent = ext;
      this.modeling.updateModdleProperties(element, ext, { values: [...ext.values, props] });
    }
    const existing = props.values.find((p) => p.name === name);
    if (!value) {
      if (existing) this.modeling.updateModdleProperties(element, props, { values: props.values.filter((p) => p !== existing) });
    } else if (existing) {
      this.modeling.updateModdleProperties(element, existing, { value });
    } else {
      const prop = moddle.create("spiffworkflow:Property", { name, value });
      prop.$parent = props;
      this.modeling.updateModdleProperties(element, props, { values: [...props.values, prop] });
    }
  }

  userTaskFields(element, bo) {
    const L = this.L;
    const rows = parseOutcomes(this.property(bo, "outcomes"));
    const list = el("div", { class: "gf-outcomes", "data-testid": "outcomes" });
    const save = () => this.setProperty(element, "outcomes", formatOutcomes(rows));
    const draw = () => {
      list.replaceChildren(...rows.map((row, index) => el("div", { class: "gf-outcome" },
        el("input", { value: row.key, "aria-label": `${L.outcome_key} ${index + 1}`, placeholder: "pass",
          onchange: (e) => { row.key = e.target.value.trim(); save(); } }),
        el("input", { value: row.label, "aria-label": `${L.outcome_label} ${index + 1}`, placeholder: "通过",
          onchange: (e) => { row.label = e.target.value.trim(); save(); } }),
        el("button", { type: "button", class: "gf-small", title: L.remove, text: "×",
          onclick: () => { rows.splice(index, 1); save(); draw(); } }))));
    };
    draw();
    const add = el("button", { type: "button", class: "gf-small", text: L.outcome_add, "data-testid": "outcome-add",
      onclick: () => { rows.push({ key: "", label: "" }); draw(); list.lastChild?.querySelector("input")?.focus(); } });
    const forms = [["", L.form_none], ...this.vocab.forms.map((key) => [key, key])];
    const assignee = el("input", { type: "checkbox", checked: this.property(bo, "assignee") === "starter",
      "data-testid": "assignee-starter",
      onchange: (e) => this.setProperty(element, "assignee", e.target.checked ? "starter" : "") });
    return [
      el("fieldset", {}, el("legend", { text: L.outcomes }), list, add, el("small", { class: "gf-hint", text: L.outcomes_hint })),
      field(L.form, select(forms, this.property(bo, "form"), (v) => this.setProperty(element, "form", v), "task-form")),
      el("label", { class: "gf-check" }, assignee, el("span", { text: L.assignee_starter })),
    ];
  }

  // --- service tasks ----------------------------------------------------------------------------
  operator(bo) {
    return (bo.extensionElements?.values || []).find((v) => is(v, "spiffworkflow:ServiceTaskOperator"));
  }

  setHandler(element, handler) {
    const bo = getBusinessObject(element);
    const moddle = this.moddle;
    let ext = bo.extensionElements;
    if (!ext) {
      ext = moddle.create("bpmn:ExtensionElements", { values: [] });
      ext.$parent = bo;
      this.modeling.updateProperties(element, { extensionElements: ext });
    }
    const op = this.operator(bo);
    if (op) {
      this.modeling.updateModdleProperties(element, op, { id: handler || undefined });
    } else if (handler) {
      const created = moddle.create("spiffworkflow:ServiceTaskOperator", { id: handler, resultVariable: `${bo.id}_result` });
      created.$parent = ext;
      this.modeling.updateModdleProperties(element, ext, { values: [...ext.values, created] });
    }
  }

  setParameters(element, text) {
    const op = this.operator(getBusinessObject(element));
    if (!op) return;
    const moddle = this.moddle;
    const params = text.split("\n").map((line) => line.trim()).filter(Boolean).map((line) => {
      const [name, ...rest] = line.split("=");
      const p = moddle.create("spiffworkflow:Parameter", { id: name.trim(), type: "any", value: rest.join("=").trim() });
      return p;
    });
    const list = moddle.create("spiffworkflow:Parameters", { values: params });
    list.$parent = op;
    params.forEach((p) => { p.$parent = list; });
    this.modeling.updateModdleProperties(element, op, { parameterList: params.length ? list : undefined });
  }

  serviceFields(element, bo) {
    const L = this.L;
    const op = this.operator(bo);
    const handlers = [["", L.handler_none], ...this.vocab.handlers.map((h) => [h, h])];
    const params = (op?.parameterList?.values || []).map((p) => `${p.id} = ${p.value}`).join("\n");
    return [
      field(L.handler, select(handlers, op?.id || "", (v) => this.setHandler(element, v), "service-handler"), L.handler_hint),
      field(L.parameters, el("textarea", { rows: 3, "data-testid": "service-parameters", disabled: !op,
        onchange: (e) => this.setParameters(element, e.target.value) }, params), L.parameters_hint),
    ];
  }

  // --- timers -----------------------------------------------------------------------------------
  timerFields(element, bo, timer) {
    const L = this.L;
    const kind = TIMER_KINDS.find((k) => timer[k]) || "timeDate";
    const expression = timer[kind]?.body || "";
    const kinds = TIMER_KINDS.map((k) => [k, L[`timer_${k}`]]);
    const apply = (newKind, newExpression) => {
      const props = Object.fromEntries(TIMER_KINDS.map((k) => [k, undefined]));
      if (newExpression) {
        const formal = this.moddle.create("bpmn:FormalExpression", { body: newExpression });
        formal.$parent = timer;
        props[newKind] = formal;
      }
      this.modeling.updateModdleProperties(element, timer, props);
    };
    const exprInput = input(expression, (v) => apply(kindSelect.value, v),
      { "data-testid": "timer-expression", placeholder: "add_working_days(start, 5)" });
    const kindSelect = select(kinds, kind, (v) => apply(v, exprInput.value.trim()), "timer-kind");
    const snippets = el("div", { class: "gf-snippets" }, this.vocab.timer_examples.map((example) => el("button", {
      type: "button", class: "gf-small", text: example,
      onclick: () => { exprInput.value = example; apply(kindSelect.value, example); } })));
    const parts = [field(L.timer_kind, kindSelect), field(L.timer_expression, exprInput, L.timer_hint), snippets];
    if (is(element, "bpmn:BoundaryEvent")) {
      parts.push(el("label", { class: "gf-check" }, el("input", { type: "checkbox", checked: bo.cancelActivity !== false,
        "data-testid": "timer-interrupting",
        onchange: (e) => this.modeling.updateProperties(element, { cancelActivity: e.target.checked }) }),
      el("span", { text: L.timer_interrupting })));
    }
    return parts;
  }

  // --- sequence flows ---------------------------------------------------------------------------
  conditionFields(element, bo) {
    const L = this.L;
    const current = bo.conditionExpression?.body || "";
    return [field(L.condition, input(current, (v) => {
      let condition;
      if (v) {
        condition = this.moddle.create("bpmn:FormalExpression", { body: v });
        condition.$parent = bo;
      }
      this.modeling.updateProperties(element, { conditionExpression: condition });
    }, { "data-testid": "flow-condition", placeholder: "outcome == 'pass'" }), L.condition_hint)];
  }

  // --- documentation and rule IDs ---------------------------------------------------------------
  documentationFields(element, bo) {
    const L = this.L;
    const text = (bo.documentation || []).map((d) => d.text).join("\n");
    const area = el("textarea", { rows: 3, "data-testid": "documentation",
      onchange: (e) => this.setDocumentation(element, e.target.value) }, text);
    const rules = [["", L.rule_pick], ...this.vocab.rules.map(([id, title]) => [id, `${id} ${title}`])];
    const picker = select(rules, "", (id) => {
      if (!id) return;
      const present = new Set(area.value.match(/\b[A-Z]{2,4}-\d+\b/g) || []);
      if (!present.has(id)) {
        area.value = area.value ? `${id} ${area.value}` : `${id}: `;
        this.setDocumentation(element, area.value);
      }
    }, "rule-picker");
    return [field(L.documentation, area, L.documentation_hint), field(L.rule_add, picker)];
  }

  setDocumentation(element, text) {
    const value = text.trim();
    let docs = [];
    if (value) {
      const doc = this.moddle.create("bpmn:Documentation", { text: value });
      doc.$parent = getBusinessObject(element);
      docs = [doc];
    }
    this.modeling.updateProperties(element, { documentation: docs });
  }
}
