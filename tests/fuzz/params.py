"""Writing a block layer's field values as expressions over the block's parameters."""

from __future__ import annotations

from typing import Any

from .base import GenBase
from .oracle import is_int
from .values import Ref


class ParamsMixin(GenBase):
    def parametrize(self, key: str, value: Any, env: dict) -> Any:
        """Maybe write a field value as a reference to a block parameter that gives it."""
        d = self.d
        special = self.special_ref(key, value, env)
        if special is not None:
            return special
        if not is_int(value) or not d.coin(0.6):
            return value
        if d.coin(0.1):
            return self.var_ref(value)
        options: list[Ref] = []
        for role in ("f", "s", "k", "p"):
            if role in self.roles:
                p = self.roles[role]
                options += _int_refs(p, env[p], value)
        if "flag" in self.roles and options and d.coin(0.1):
            options = [_flag_ref(self.roles["flag"], options[0], value)]
        if not options:
            return value
        self.features.add("param-ref")
        return d.pick(options)

    def special_ref(self, key: str, value: Any, env: dict) -> Ref | None:
        """A reference for a field with its own parameter (activation, bias, rate, scale), or
        a var for a size; None to go on with the int parameters."""
        d = self.d
        roles = self.roles
        if key == "activation" and isinstance(value, str) and "act" in roles and d.coin(0.5):
            a = roles["act"]
            return Ref(f"${a}", lambda e: e[a])
        if key == "bias" and isinstance(value, bool) and "flag" in roles and d.coin(0.5):
            fl = roles["flag"]
            if value == env[fl]:
                return Ref(f"${fl}", lambda e: e[fl])
            return Ref(f"${{not {fl}}}", lambda e: not e[fl])
        if key == "rate" and "s" in roles and d.coin(0.3):
            s_ = roles["s"]
            return Ref(f"${{{s_} / 4}}", lambda e: e[s_] / 4)
        if key == "scale" and "s" in roles and d.coin(0.3) and not isinstance(value, bool):
            s_ = roles["s"]
            return Ref(f"${{{s_} * 1.5}}", lambda e: e[s_] * 1.5)
        if key in ("kernel", "padding", "stride", "output", "size") and d.coin(0.08):
            return self.var_ref(value)  # a var, possibly a list
        return None

    def var_ref(self, value: Any) -> Ref:
        """A reference to a top-level var holding `value` (used from inside a block)."""
        name = f"g_{len(self.var_text)}"
        for k, v in self.var_text.items():
            if v == value and type(v) is type(value) and k.startswith("g_"):
                name = k
                break
        self.var_text[name] = value
        self.features.add("var-in-block")
        return Ref(f"${name}", lambda e, v=value: v)


def _int_refs(p: str, pv: Any, value: int) -> list[Ref]:
    """Expressions over the int parameter `p` (worth `pv` here) that give `value`."""
    options = []
    if pv == value:
        options.append(Ref(f"${p}", lambda e, p=p: e[p]))
    elif pv and value % pv == 0 and value // pv > 1:
        c = value // pv
        options.append(Ref(f"${{{p} * {c}}}", lambda e, p=p, c=c: e[p] * c))
    elif abs(value - pv) <= 2:
        c = value - pv
        sign = "+" if c > 0 else "-"
        options.append(Ref(f"${{{p} {sign} {abs(c)}}}", lambda e, p=p, c=c: e[p] + c))
    if (pv - 1) // 2 == value and pv > 1:
        options.append(Ref(f"${{({p} - 1) // 2}}", lambda e, p=p: (e[p] - 1) // 2))
    if pv // 2 == value and pv > 1:
        options.append(Ref(f"${{{p} // 2}}", lambda e, p=p: e[p] // 2))
    if max(pv, value) == value and pv < value:
        options.append(Ref(f"${{max({p}, {value})}}", lambda e, p=p, v=value: max(e[p], v)))
    return options


def _flag_ref(fl: str, first: Ref, value: int) -> Ref:
    """`${<first> if flag else value}`."""
    inner = first.text[2:-1] if first.text.startswith("${") else first.text[1:]
    return Ref(
        f"${{{inner} if {fl} else {value}}}",
        lambda e, fn=first.fn, fl=fl, v=value: fn(e) if e[fl] else v,
    )
