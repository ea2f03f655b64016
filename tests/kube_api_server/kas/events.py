"""One Event store, two API versions: core `v1` and `events.k8s.io/v1`.

On the real API server both are views of one stored object (the internal core Event);
pkg/apis/events/v1/conversion.go maps the fields:

  events.k8s.io/v1            core v1
  regarding                   involvedObject
  note                        message
  reportingController         reportingComponent
  deprecatedSource            source
  deprecatedFirstTimestamp    firstTimestamp
  deprecatedLastTimestamp     lastTimestamp
  deprecatedCount             count
  (eventTime, series, reportingInstance, action, reason, related, type: same names)

The store keeps the core v1 form. The JSON shapes follow the Go structs: fields that are
structs (`source`, `regarding`, `deprecatedSource`, `involvedObject`) are always present,
zero times are `null`, core's `reportingComponent`/`reportingInstance` have no omitempty.
Unknown fields are dropped, as decoding into the typed struct does.
"""
import copy

# core field -> events.k8s.io/v1 field
_RENAMED = {
    "involvedObject": "regarding",
    "message": "note",
    "reportingComponent": "reportingController",
    "source": "deprecatedSource",
    "firstTimestamp": "deprecatedFirstTimestamp",
    "lastTimestamp": "deprecatedLastTimestamp",
    "count": "deprecatedCount",
}
_SAME = ("eventTime", "series", "reportingInstance", "action", "reason", "related", "type")

# JSON field order of the Go structs (what a real server writes)
CORE_ORDER = ["metadata", "involvedObject", "reason", "message", "source", "firstTimestamp",
              "lastTimestamp", "count", "type", "eventTime", "series", "action", "related",
              "reportingComponent", "reportingInstance"]
EVENTS_V1_ORDER = ["metadata", "eventTime", "series", "reportingController", "reportingInstance",
                   "action", "reason", "regarding", "related", "note", "type", "deprecatedSource",
                   "deprecatedFirstTimestamp", "deprecatedLastTimestamp", "deprecatedCount"]

# events.k8s.io/v1 field selector labels -> the core labels the storage understands
# (AddFieldLabelConversionsForEvent); the core spellings are refused there.
EVENTS_V1_FIELD_LABELS = {
    "reason": "reason",
    "regarding.kind": "involvedObject.kind",
    "regarding.namespace": "involvedObject.namespace",
    "regarding.name": "involvedObject.name",
    "regarding.uid": "involvedObject.uid",
    "regarding.apiVersion": "involvedObject.apiVersion",
    "regarding.resourceVersion": "involvedObject.resourceVersion",
    "regarding.fieldPath": "involvedObject.fieldPath",
    "reportingController": "reportingComponent",
    "source": "source",
    "type": "type",
    "metadata.namespace": "metadata.namespace",
    "metadata.name": "metadata.name",
}


def _nonempty(v):
    return v not in (None, "", 0, {}, [])


def normalize_core(obj):
    """The stored (core v1) shape of an Event body written through the core API."""
    out = {"metadata": obj.get("metadata") or {}}
    for k in CORE_ORDER[1:]:
        if k in obj:
            out[k] = copy.deepcopy(obj[k])
    return _finish_core(out)


def _finish_core(out):
    out["involvedObject"] = out.get("involvedObject") or {}
    out["source"] = {k: v for k, v in (out.get("source") or {}).items() if _nonempty(v)}
    for k in ("firstTimestamp", "lastTimestamp", "eventTime"):
        out[k] = out.get(k) or None
    for k in ("reason", "message", "type", "action"):
        if not out.get(k):
            out.pop(k, None)
    if not out.get("count"):
        out.pop("count", None)
    for k in ("series", "related"):
        if not out.get(k):
            out.pop(k, None)
    out["reportingComponent"] = out.get("reportingComponent") or ""
    out["reportingInstance"] = out.get("reportingInstance") or ""
    return {k: out[k] for k in CORE_ORDER if k in out}


def core_from_events_v1(obj):
    """An events.k8s.io/v1 body as the stored core Event (Convert_v1_Event_To_core_Event)."""
    out = {"metadata": obj.get("metadata") or {}}
    for core_name, v1_name in _RENAMED.items():
        if v1_name in obj:
            out[core_name] = copy.deepcopy(obj[v1_name])
    for k in _SAME:
        if k in obj:
            out[k] = copy.deepcopy(obj[k])
    return _finish_core(out)


def events_v1_from_core(obj):
    """The events.k8s.io/v1 view of a stored core Event (Convert_core_Event_To_v1_Event)."""
    out = {"metadata": obj.get("metadata") or {}}
    for core_name, v1_name in _RENAMED.items():
        if core_name in obj:
            out[v1_name] = obj[core_name]
    for k in _SAME:
        if k in obj:
            out[k] = obj[k]
    out["eventTime"] = out.get("eventTime") or None
    out["regarding"] = out.get("regarding") or {}
    out["deprecatedSource"] = out.get("deprecatedSource") or {}
    out["deprecatedFirstTimestamp"] = out.get("deprecatedFirstTimestamp") or None
    out["deprecatedLastTimestamp"] = out.get("deprecatedLastTimestamp") or None
    for k in ("reportingController", "reportingInstance", "action", "reason", "note", "type",
              "deprecatedCount", "series", "related"):
        if not out.get(k):
            out.pop(k, None)
    return {k: out[k] for k in EVENTS_V1_ORDER if k in out}


def core_field_value(obj, label):
    """A selectable field of a stored core Event (pkg/registry/core/event ToSelectableFields)."""
    if label == "source":
        return (obj.get("source") or {}).get("component") or obj.get("reportingComponent") or ""
    return None
