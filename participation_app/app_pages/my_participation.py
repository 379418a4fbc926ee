"""My participation: the signed-in citizen's own contact ledger, on every channel."""

from __future__ import annotations

from collections import Counter

import pandas as pd
import streamlit as st

from participation.ledger import citizen_ledger
from participation.queries_citizens import citizen_profile
from participation_app import i18n, state, ui
from participation_app.ui import tr

who = state.require("citizen")
st.title(tr("mine.title"))
st.text(tr("mine.intro"))
with state.db() as s:
    profile = citizen_profile(s, citizen_id=int(who.id or 0))
    entries = citizen_ledger(s, citizen_id=int(who.id or 0), limit=500)
if not entries:
    ui.alert("info", tr("mine.empty"))
    st.stop()

zone = profile.time_zone if profile is not None else "UTC"


def _word(prefix: str, value: str) -> str:
    key = f"{prefix}.{value}"
    return tr(key) if key in i18n.MESSAGES["en"] else value


kinds = Counter(_word("kind", e.kind) for e in entries)
st.subheader(tr("mine.by_kind"))
st.bar_chart(
    pd.DataFrame({"kind": list(kinds), "n": list(kinds.values())}),
    x="kind",
    y="n",
    x_label="",
    y_label="",
)
frame = pd.DataFrame(
    {
        tr("mine.when"): [ui.when(e.at, zone) for e in entries],
        tr("mine.kind"): [_word("kind", e.kind) for e in entries],
        tr("mine.channel"): [_word("channel", e.channel) for e in entries],
        tr("mine.direction"): [_word("dir", e.direction) for e in entries],
        tr("mine.consultation"): [e.consultation or "" for e in entries],
    }
)
st.dataframe(frame, hide_index=True, width="stretch")
