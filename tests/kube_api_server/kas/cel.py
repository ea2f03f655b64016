"""A small subset of CEL, enough for typical x-kubernetes-validations rules.

Supported: self / oldSelf, field selection (a.b), indexing (a[0], m['k']), has(a.b),
literals (int, double, string '..' / "..", bool, null, lists [..], maps {..}),
! - unary, * / % + -, == != < <= > >=, in, && || (with CEL's error absorption),
?: ternary, size(x) / x.size(), startsWith / endsWith / contains / matches,
int() / string() / double(), the macros all / exists / exists_one / filter / map.
Anything else is a compile error (reported like a rule that does not compile).
"""
import re


class CelError(Exception):
    pass


class CelCompileError(CelError):
    pass


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<float>\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)
  | (?P<int>0x[0-9a-fA-F]+|\d+)[uU]?
  | (?P<str>[rR]?(?:'''(?:\\.|[^\\])*?'''|\"\"\"(?:\\.|[^\\])*?\"\"\"|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"))
  | (?P<op>==|!=|<=|>=|&&|\|\||[-+*/%!<>?:.,()\[\]{}])
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
""", re.X | re.S)

_ESC = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "a": "\a",
        "b": "\b", "f": "\f", "v": "\v", "0": "\0", "`": "`", "?": "?"}


def _unquote(tok):
    raw = tok[0] in "rR"
    if raw:
        tok = tok[1:]
    q = tok[:3] if tok[:3] in ("'''", '"""') else tok[0]
    body = tok[len(q):-len(q)]
    if raw:
        return body
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            n = body[i + 1]
            if n in _ESC:
                out.append(_ESC[n])
                i += 2
                continue
            if n in "xX":
                out.append(chr(int(body[i + 2:i + 4], 16)))
                i += 4
                continue
            if n == "u":
                out.append(chr(int(body[i + 2:i + 6], 16)))
                i += 6
                continue
            out.append(n)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def tokenize(src):
    toks, pos = [], 0
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if not m:
            raise CelCompileError(f"Syntax error: token recognition error at: '{src[pos]}'")
        pos = m.end()
        kind = m.lastgroup
        if kind == "ws":
            continue
        text = m.group(kind)
        if kind == "int":
            toks.append(("int", int(text, 16) if text[:2] in ("0x", "0X") else int(text)))
        elif kind == "float":
            toks.append(("float", float(text)))
        elif kind == "str":
            toks.append(("str", _unquote(text)))
        elif kind == "ident":
            toks.append(("ident", text))
        else:
            toks.append(("op", text))
    toks.append(("eof", None))
    return toks


MACROS = {"all", "exists", "exists_one", "filter", "map"}


class Parser:
    def __init__(self, src):
        self.toks = tokenize(src)
        self.i = 0

    def peek(self, k=0):
        return self.toks[self.i + k]

    def take(self):
        t = self.toks[self.i]
        self.i += 1
        return t

    def accept(self, op):
        t = self.peek()
        if t[0] == "op" and t[1] == op:
            self.i += 1
            return True
        return False

    def expect(self, op):
        if not self.accept(op):
            raise CelCompileError(f"Syntax error: expected '{op}' but found {self.peek()[1]!r}")

    def parse(self):
        e = self.expr()
        if self.peek()[0] != "eof":
            raise CelCompileError(f"Syntax error: unexpected {self.peek()[1]!r}")
        return e

    def expr(self):
        c = self.or_()
        if self.accept("?"):
            a = self.or_()
            self.expect(":")
            b = self.expr()
            return ("cond", c, a, b)
        return c

    def or_(self):
        e = self.and_()
        while self.accept("||"):
            e = ("or", e, self.and_())
        return e

    def and_(self):
        e = self.rel()
        while self.accept("&&"):
            e = ("and", e, self.rel())
        return e

    def rel(self):
        e = self.add()
        while True:
            t = self.peek()
            if t[0] == "op" and t[1] in ("==", "!=", "<", "<=", ">", ">="):
                self.take()
                e = ("bin", t[1], e, self.add())
            elif t == ("ident", "in"):
                self.take()
                e = ("in", e, self.add())
            else:
                return e

    def add(self):
        e = self.mul()
        while True:
            t = self.peek()
            if t[0] == "op" and t[1] in ("+", "-"):
                self.take()
                e = ("bin", t[1], e, self.mul())
            else:
                return e

    def mul(self):
        e = self.unary()
        while True:
            t = self.peek()
            if t[0] == "op" and t[1] in ("*", "/", "%"):
                self.take()
                e = ("bin", t[1], e, self.unary())
            else:
                return e

    def unary(self):
        if self.accept("!"):
            return ("not", self.unary())
        if self.accept("-"):
            return ("neg", self.unary())
        return self.postfix()

    def args(self):
        out = []
        if self.accept(")"):
            return out
        while True:
            out.append(self.expr())
            if self.accept(")"):
                return out
            self.expect(",")

    def postfix(self):
        e = self.primary()
        while True:
            if self.accept("."):
                t = self.take()
                if t[0] != "ident":
                    raise CelCompileError("Syntax error: expected a field name")
                if self.accept("("):
                    if t[1] in MACROS:
                        var = self.take()
                        if var[0] != "ident":
                            raise CelCompileError(f"{t[1]}() variable name must be a simple identifier")
                        self.expect(",")
                        body = self.expr()
                        self.expect(")")
                        e = ("macro", t[1], e, var[1], body)
                    else:
                        e = ("method", t[1], e, self.args())
                else:
                    e = ("select", e, t[1])
            elif self.accept("["):
                idx = self.expr()
                self.expect("]")
                e = ("index", e, idx)
            else:
                return e

    def primary(self):
        t = self.take()
        kind, val = t
        if kind in ("int", "float", "str"):
            return ("lit", val)
        if kind == "ident":
            if val == "true":
                return ("lit", True)
            if val == "false":
                return ("lit", False)
            if val == "null":
                return ("lit", None)
            if self.accept("("):
                if val == "has":
                    arg = self.expr()
                    self.expect(")")
                    if arg[0] != "select":
                        raise CelCompileError("invalid argument to has() macro")
                    return ("has", arg[1], arg[2])
                return ("call", val, self.args())
            return ("ident", val)
        if kind == "op" and val == "(":
            e = self.expr()
            self.expect(")")
            return e
        if kind == "op" and val == "[":
            items = []
            if not self.accept("]"):
                while True:
                    items.append(self.expr())
                    if self.accept("]"):
                        break
                    self.expect(",")
            return ("list", items)
        if kind == "op" and val == "{":
            items = []
            if not self.accept("}"):
                while True:
                    k = self.expr()
                    self.expect(":")
                    items.append((k, self.expr()))
                    if self.accept("}"):
                        break
                    self.expect(",")
            return ("map", items)
        raise CelCompileError(f"Syntax error: unexpected {val!r}")


def compile_rule(src):
    return Parser(src).parse()


def uses_old_self(ast):
    if isinstance(ast, tuple):
        if ast == ("ident", "oldSelf"):
            return True
        return any(uses_old_self(x) for x in ast[1:])
    if isinstance(ast, list):
        return any(uses_old_self(x) for x in ast)
    return False


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _type_name(v):
    if v is None:
        return "null_type"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "double"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "list"
    if isinstance(v, dict):
        return "map"
    return type(v).__name__


def _eq(a, b):
    if _is_num(a) and _is_num(b):
        return a == b
    if type(a) is not type(b):
        if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
            return False
        raise CelError(f"no such overload: {_type_name(a)} == {_type_name(b)}")
    if isinstance(a, list):
        return len(a) == len(b) and all(_eq(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_eq(a[k], b[k]) for k in a)
    return a == b


def _cmp(op, a, b):
    ok = (_is_num(a) and _is_num(b)) or (type(a) is type(b) and isinstance(a, (str, bool)))
    if not ok:
        raise CelError(f"no such overload: {_type_name(a)} {op} {_type_name(b)}")
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _size(v):
    if isinstance(v, str):
        return len(v)
    if isinstance(v, bytes):
        return len(v)
    if isinstance(v, (list, dict)):
        return len(v)
    raise CelError(f"no such overload: size({_type_name(v)})")


class Env:
    def __init__(self, variables):
        self.vars = variables


def evaluate(ast, variables):
    return _ev(ast, variables)


def _ev(n, env):
    op = n[0]
    if op == "lit":
        return n[1]
    if op == "ident":
        if n[1] in env:
            return env[n[1]]
        raise CelError(f"undeclared reference to '{n[1]}'")
    if op == "select":
        obj = _ev(n[1], env)
        if isinstance(obj, dict):
            if n[2] in obj:
                return obj[n[2]]
            raise CelError(f"no such key: {n[2]}")
        raise CelError(f"type '{_type_name(obj)}' does not support field selection")
    if op == "has":
        obj = _ev(n[1], env)
        if isinstance(obj, dict):
            return n[2] in obj
        raise CelError(f"invalid type for field selection.")
    if op == "index":
        obj = _ev(n[1], env)
        idx = _ev(n[2], env)
        if isinstance(obj, list):
            if not _is_num(idx) or int(idx) != idx:
                raise CelError("unsupported index type")
            if not 0 <= int(idx) < len(obj):
                raise CelError(f"index out of bounds: {idx}")
            return obj[int(idx)]
        if isinstance(obj, dict):
            if idx in obj:
                return obj[idx]
            raise CelError(f"no such key: {idx}")
        raise CelError(f"no such overload: {_type_name(obj)}[{_type_name(idx)}]")
    if op == "list":
        return [_ev(x, env) for x in n[1]]
    if op == "map":
        return {_ev(k, env): _ev(v, env) for k, v in n[1]}
    if op == "not":
        v = _ev(n[1], env)
        if not isinstance(v, bool):
            raise CelError(f"no such overload: !{_type_name(v)}")
        return not v
    if op == "neg":
        v = _ev(n[1], env)
        if not _is_num(v):
            raise CelError(f"no such overload: -{_type_name(v)}")
        return -v
    if op in ("and", "or"):
        short = op == "or"   # value that decides the result
        err = None
        for side in (n[1], n[2]):
            try:
                v = _ev(side, env)
            except CelError as e:
                err = err or e
                continue
            if not isinstance(v, bool):
                err = err or CelError(f"no matching overload for '{op}'")
                continue
            if v == short:
                return short
        if err:
            raise err
        return not short
    if op == "cond":
        c = _ev(n[1], env)
        if not isinstance(c, bool):
            raise CelError("no matching overload for '_?_:_'")
        return _ev(n[2] if c else n[3], env)
    if op == "in":
        v = _ev(n[1], env)
        coll = _ev(n[2], env)
        if isinstance(coll, list):
            return any(_safe_eq(v, x) for x in coll)
        if isinstance(coll, dict):
            return v in coll
        raise CelError(f"no such overload: {_type_name(v)} in {_type_name(coll)}")
    if op == "bin":
        o = n[1]
        a = _ev(n[2], env)
        b = _ev(n[3], env)
        if o == "==":
            return _eq(a, b)
        if o == "!=":
            return not _eq(a, b)
        if o in ("<", "<=", ">", ">="):
            return _cmp(o, a, b)
        if o == "+":
            if (_is_num(a) and _is_num(b)) or (type(a) is type(b) and isinstance(a, (str, list))):
                return a + b
        elif _is_num(a) and _is_num(b):
            if o == "-":
                return a - b
            if o == "*":
                return a * b
            if o == "/":
                if b == 0:
                    raise CelError("division by zero")
                if isinstance(a, int) and isinstance(b, int):
                    q = abs(a) // abs(b)
                    return q if (a >= 0) == (b >= 0) else -q
                return a / b
            if o == "%":
                if b == 0:
                    raise CelError("modulus by zero")
                return a - b * int(a / b)
        raise CelError(f"no such overload: {_type_name(a)} {o} {_type_name(b)}")
    if op == "call":
        name, args = n[1], [_ev(a, env) for a in n[2]]
        if name == "size" and len(args) == 1:
            return _size(args[0])
        if name == "int" and len(args) == 1:
            try:
                return int(args[0])
            except (TypeError, ValueError):
                raise CelError("cannot convert to int")
        if name == "double" and len(args) == 1:
            try:
                return float(args[0])
            except (TypeError, ValueError):
                raise CelError("cannot convert to double")
        if name == "string" and len(args) == 1:
            v = args[0]
            if isinstance(v, bool):
                return "true" if v else "false"
            if isinstance(v, (int, float, str)):
                return str(v)
            raise CelError("cannot convert to string")
        raise CelError(f"undeclared reference to '{name}'")
    if op == "method":
        name = n[1]
        target = _ev(n[2], env)
        args = [_ev(a, env) for a in n[3]]
        if name == "size" and not args:
            return _size(target)
        if isinstance(target, str) and len(args) == 1 and isinstance(args[0], str):
            if name == "startsWith":
                return target.startswith(args[0])
            if name == "endsWith":
                return target.endswith(args[0])
            if name == "contains":
                return args[0] in target
            if name == "matches":
                return re.search(args[0], target) is not None
        if name in ("lowerAscii", "upperAscii", "trim") and isinstance(target, str) and not args:
            return {"lowerAscii": target.lower, "upperAscii": target.upper, "trim": target.strip}[name]()
        raise CelError(f"found no matching overload for '{name}' applied to '{_type_name(target)}'")
    if op == "macro":
        name, target, var, body = n[1], _ev(n[2], env), n[3], n[4]
        if isinstance(target, dict):
            items = list(target.keys())
        elif isinstance(target, list):
            items = target
        else:
            raise CelError(f"cannot iterate over {_type_name(target)}")

        def run(x):
            e2 = dict(env)
            e2[var] = x
            return _ev(body, e2)
        if name == "all":
            return all(run(x) is True for x in items)
        if name == "exists":
            return any(run(x) is True for x in items)
        if name == "exists_one":
            return sum(1 for x in items if run(x) is True) == 1
        if name == "filter":
            return [x for x in items if run(x) is True]
        if name == "map":
            return [run(x) for x in items]
    raise CelError(f"unsupported expression {op}")


def _safe_eq(a, b):
    try:
        return _eq(a, b)
    except CelError:
        return False
