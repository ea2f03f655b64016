"""metav1.Status objects and the errors that carry them.

Messages follow k8s.io/apimachinery/pkg/api/errors and
k8s.io/apimachinery/pkg/util/validation/field as closely as practical.
"""
import json


def status_body(code, reason, message, details=None, status="Failure"):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": status}
    if message is not None:
        body["message"] = message
    if reason:
        body["reason"] = reason
    if details:
        body["details"] = details
    if code:
        body["code"] = code
    return body


def success_status(details=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
    if details:
        body["details"] = details
    return body


class ApiError(Exception):
    """An error that is answered with a Status body."""

    def __init__(self, code, reason, message, details=None, headers=None, empty_body=False):
        super().__init__(message)
        self.empty_body = empty_body
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self):
        return status_body(self.code, self.reason, self.message, self.details)


def _details(res, name=None):
    d = {}
    if name:
        d["name"] = name
    if res is not None:
        if res.group:
            d["group"] = res.group
        d["kind"] = res.plural
    return d or None


def not_found(res, name):
    return ApiError(404, "NotFound", f'{res.qualified} "{name}" not found', _details(res, name))


def not_found_path():
    return ApiError(404, "NotFound", "the server could not find the requested resource",
                    {})


def already_exists(res, name):
    return ApiError(409, "AlreadyExists", f'{res.qualified} "{name}" already exists',
                    _details(res, name))


def conflict(res, name, why=None):
    why = why or ("the object has been modified; please apply your changes to the "
                  "latest version and try again")
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {res.qualified} "{name}": {why}',
                    _details(res, name))


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def method_not_allowed(method):
    return ApiError(405, "MethodNotAllowed",
                    f"the server does not allow this method on the requested resource")


def unsupported_media_type(content_type, accepted):
    return ApiError(415, "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted media types include: "
                    + ", ".join(accepted))


def unauthorized():
    return ApiError(401, "Unauthorized", "Unauthorized")


def forbidden(res_plural, group, name, user, verb, subresource, namespace):
    resource = res_plural + ("/" + subresource if subresource else "")
    qualified = res_plural + ("." + group if group else "")
    if namespace:
        why = (f'User "{user}" cannot {verb} resource "{resource}" in API group "{group}" '
               f'in the namespace "{namespace}"')
    else:
        why = f'User "{user}" cannot {verb} resource "{resource}" in API group "{group}" at the cluster scope'
    if name:
        msg = f'{qualified} "{name}" is forbidden: {why}'
    else:
        msg = f"{qualified} is forbidden: {why}"
    d = {"kind": res_plural}
    if name:
        d = {"name": name, **({"group": group} if group else {}), "kind": res_plural}
    elif group:
        d = {"group": group, "kind": res_plural}
    return ApiError(403, "Forbidden", msg, d)


def gone_expired(message):
    return ApiError(410, "Expired", message)


def internal(message):
    return ApiError(500, "InternalError", f"Internal error occurred: {message}",
                    {"causes": [{"message": message}]})


def too_large(limit):
    return ApiError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {limit}")


# ---------------------------------------------------------------------------
# field errors (k8s.io/apimachinery/pkg/util/validation/field)

_TYPE_TEXT = {
    "FieldValueNotFound": "Not found",
    "FieldValueRequired": "Required value",
    "FieldValueDuplicate": "Duplicate value",
    "FieldValueInvalid": "Invalid value",
    "FieldValueNotSupported": "Unsupported value",
    "FieldValueForbidden": "Forbidden",
    "FieldValueTooLong": "Too long",
    "FieldValueTooMany": "Too many",
    "InternalError": "Internal error",
    "FieldValueTypeInvalid": "Invalid value",
}

OMIT = object()


def go_value(v):
    """Render a bad value the way field.Error.ErrorBody does (%q for strings, %v otherwise)."""
    if v is None:
        return '"null"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    return json.dumps(v, sort_keys=True)


class FieldError:
    def __init__(self, etype, field, value=OMIT, detail=""):
        self.type = etype
        self.field = field
        self.value = value
        self.detail = detail

    def body(self):
        t = _TYPE_TEXT[self.type]
        if self.type in ("FieldValueRequired", "FieldValueForbidden", "FieldValueTooLong",
                         "InternalError") or self.value is OMIT:
            s = t
        else:
            s = f"{t}: {go_value(self.value)}"
        if self.detail:
            s += f": {self.detail}"
        return s

    def __str__(self):
        return f"{self.field}: {self.body()}"

    def cause(self):
        return {"reason": self.type, "message": self.body(), "field": self.field}


def required(field, detail=""):
    return FieldError("FieldValueRequired", field, "", detail)


def invalid(field, value, detail=""):
    return FieldError("FieldValueInvalid", field, value, detail)


def type_invalid(field, value, detail=""):
    return FieldError("FieldValueTypeInvalid", field, value, detail)


def not_supported(field, value, valid):
    detail = ""
    if valid:
        detail = "supported values: " + ", ".join(json.dumps(x) for x in valid)
    return FieldError("FieldValueNotSupported", field, value, detail)


def too_long(field, maxlen):
    return FieldError("FieldValueTooLong", field, "", f"may not be longer than {maxlen}")


def too_long_bytes(field, maxlen):
    return FieldError("FieldValueTooLong", field, "", f"must have at most {maxlen} bytes")


def too_many(field, actual, maximum):
    return FieldError("FieldValueTooMany", field, actual, f"must have at most {maximum} items")


def forbidden_field(field, detail):
    return FieldError("FieldValueForbidden", field, "", detail)


def duplicate(field, value):
    return FieldError("FieldValueDuplicate", field, value)


def invalid_error(kind_qualified, group, kind, name, errors):
    """errors.NewInvalid: 422 with causes; de-duplicated like ErrorList.ToAggregate."""
    seen, uniq = set(), []
    for e in errors:
        s = str(e)
        if s not in seen:
            seen.add(s)
            uniq.append(e)
    if len(uniq) == 1:
        agg = str(uniq[0])
    else:
        agg = "[" + ", ".join(str(e) for e in uniq) + "]"
    details = {"name": name, **({"group": group} if group else {}), "kind": kind,
               "causes": [e.cause() for e in uniq]}
    return ApiError(422, "Invalid", f'{kind_qualified} "{name}" is invalid: {agg}', details)
