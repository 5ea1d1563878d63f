"""ddb's expression language (DragonFly sys/ddb/db_expr.c and db_lex.c),
grown with C's member access so kernel structures can be walked:

    expr    := binary operators | & ^ << >> + - * / % and # (round up)
    unary   := - ~ *  (struct NAME *)cast  (long)cast  postfix
    postfix := primary ( -> NAME | . NAME | [ expr ] )*
    primary := number | "string" | $variable | name | . (dot) | ( expr )

Numbers are read in the current radix (default 16) unless prefixed with
0x (hex), 0t (decimal) or 0o (octal).  Names are resolved by the
environment: locals of the selected kernel frame, kernel globals, then
function symbols.  Values are Python objects; addresses are ints.  A cast
`(struct proc *)0x7f3a5c1e2b40` asks the environment for the live object
of that type at that address.
"""
import re

from .db_sym import DbError

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<var>\$[A-Za-z0-9_]+)
  | (?P<num>[0-9][0-9A-Za-z_]*)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>->|<<|>>|[-+*/%#&|^~()\[\].,=!])
""", re.X)

SCALAR_TYPES = {"int", "long", "char", "short", "u_int", "u_long", "unsigned", "void",
                "caddr_t", "vm_offset_t", "uintptr_t", "register_t"}


def tokenize(text):
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise DbError(f"Syntax error at '{text[pos:]}'")
        pos = m.end()
        kind = m.lastgroup
        if kind != "ws":
            out.append((kind, m.group()))
    return out


def parse_number(text, radix=16):
    """A db_lex number: 0x/0t/0o prefixes, else the current radix."""
    t = text.lower()
    base = radix
    if len(t) > 2 and t[0] == "0" and t[1] in "xto":
        base = {"x": 16, "t": 10, "o": 8}[t[1]]
        t = t[2:]
    try:
        return int(t.replace("_", ""), base)
    except ValueError:
        raise DbError(f"Bad number '{text}' in radix {base}") from None


def unescape(s):
    body = s[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "0": "\0"}.get(m.group(1),
                                                                          m.group(1)), body)


class Deref:
    """`*obj`: the structure itself rather than a pointer to it (print shows it whole)."""

    def __init__(self, obj):
        self.obj = obj


class Parser:
    """Recursive descent over the tokens of one expression."""

    BINARY = [("|",), ("^",), ("&",), ("<<", ">>"), ("+", "-"), ("*", "/", "%", "#")]

    def __init__(self, text, env):
        self.toks = tokenize(text) if isinstance(text, str) else list(text)
        self.i = 0
        self.env = env

    # -- token helpers ------------------------------------------------------------------
    def peek(self, k=0):
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else (None, None)

    def take(self):
        t = self.peek()
        self.i += 1
        return t

    def accept(self, *ops):
        kind, val = self.peek()
        if kind == "op" and val in ops:
            self.i += 1
            return val
        return None

    def expect(self, op):
        if not self.accept(op):
            raise DbError(f"Syntax error: expected '{op}'")

    def at_end(self):
        return self.i >= len(self.toks)

    def rest(self):
        return self.toks[self.i:]

    # -- grammar --------------------------------------------------------------------------
    def expression(self):
        return self.binary(0)

    def binary(self, level):
        if level == len(self.BINARY):
            return self.unary()
        left = self.binary(level + 1)
        while True:
            op = self.accept(*self.BINARY[level])
            if op is None:
                return left
            right = self.binary(level + 1)
            left = self.arith(op, left, right)

    def arith(self, op, a, b):
        a, b = self.env.as_int(a), self.env.as_int(b)
        if op in "/%#" and b == 0:
            raise DbError("Division by 0")
        return {"|": lambda: a | b, "^": lambda: a ^ b, "&": lambda: a & b,
                "<<": lambda: a << b, ">>": lambda: a >> b, "+": lambda: a + b,
                "-": lambda: a - b, "*": lambda: a * b, "/": lambda: int(a / b),
                "%": lambda: a % b, "#": lambda: -(-a // b) * b}[op]()

    def unary(self):
        if self.accept("-"):
            return -self.env.as_int(self.unary())
        if self.accept("~"):
            return ~self.env.as_int(self.unary())
        if self.accept("*"):
            return self.env.deref(self.unary())
        cast = self.try_cast()
        if cast is not None:
            kind, pointer = cast
            value = self.unary()
            return self.env.cast(kind, value) if pointer else self.env.as_int(value)
        return self.postfix()

    def try_cast(self):
        """`(struct NAME *)` -> (NAME, True), `(long)` -> ('long', False), else None."""
        kind, val = self.peek()
        if kind != "op" or val != "(":
            return None
        k1, v1 = self.peek(1)
        if k1 == "ident" and v1 == "struct":
            k2, name = self.peek(2)
            if k2 != "ident" or self.peek(3) != ("op", "*") or self.peek(4) != ("op", ")"):
                raise DbError("Syntax error in cast: use (struct NAME *)")
            self.i += 5
            return name, True
        if k1 == "ident" and v1 in SCALAR_TYPES:
            j = 2
            while self.peek(j) in (("ident", "long"), ("ident", "int"), ("op", "*")):
                j += 1
            if self.peek(j) == ("op", ")"):
                self.i += j + 1
                return v1, False
        return None

    def postfix(self):
        value = self.primary()
        while True:
            if self.accept("->", "."):
                kind, name = self.take()
                if kind != "ident":
                    raise DbError("Syntax error: a member name must follow -> or .")
                value = self.env.member(value, name)
            elif self.accept("["):
                key = self.expression()
                self.expect("]")
                value = self.env.index(value, key)
            else:
                return value

    def primary(self):
        kind, val = self.take()
        if kind == "num":
            return parse_number(val, self.env.radix)
        if kind == "str":
            return unescape(val)
        if kind == "var":
            return self.env.variable(val[1:])
        if kind == "ident":
            return self.env.identifier(val)
        if kind == "op" and val == "(":
            v = self.expression()
            self.expect(")")
            return v
        if kind == "op" and val == ".":
            return self.env.dot()
        if kind is None:
            raise DbError("Expression missing")
        raise DbError(f"Syntax error at '{val}'")


def evaluate(text, env):
    """The value of a whole expression; trailing text is an error."""
    p = Parser(text, env)
    v = p.expression()
    if not p.at_end():
        raise DbError(f"Syntax error at '{p.peek()[1]}'")
    return v
