// The spiffworkflow extension elements GovFlow reads (engine/parsing.py), as a moddle descriptor,
// so the modeler can create and edit them: user-task properties (outcomes, form, assignee) and
// the service-task operator (the registered handler and its parameters).
export default {
  name: "SpiffWorkflow",
  uri: "http://spiffworkflow.org/bpmn/schema/1.0/core",
  prefix: "spiffworkflow",
  xml: { tagAlias: "lowerCase" },
  associations: [],
  types: [
    {
      name: "Properties",
      superClass: ["Element"],
      meta: { allowedIn: ["bpmn:UserTask", "bpmn:ManualTask"] },
      properties: [{ name: "values", type: "Property", isMany: true }],
    },
    {
      name: "Property",
      superClass: ["Element"],
      properties: [
        { name: "name", isAttr: true, type: "String" },
        { name: "value", isAttr: true, type: "String" },
      ],
    },
    {
      name: "ServiceTaskOperator",
      superClass: ["Element"],
      meta: { allowedIn: ["bpmn:ServiceTask"] },
      properties: [
        { name: "id", isAttr: true, type: "String" },
        { name: "resultVariable", isAttr: true, type: "String" },
        { name: "parameterList", type: "Parameters" },
      ],
    },
    {
      name: "Parameters",
      superClass: ["Element"],
      properties: [{ name: "values", type: "Parameter", isMany: true }],
    },
    {
      name: "Parameter",
      superClass: ["Element"],
      properties: [
        { name: "id", isAttr: true, type: "String" },
        { name: "type", isAttr: true, type: "String" },
        { name: "value", isAttr: true, type: "String" },
      ],
    },
  ],
};
