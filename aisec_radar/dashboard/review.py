"""Review: the curators' queue of needs-review papers, one at a time, every action stored at once.

Each accept/correct appends a curator label through the store in its own short transaction (retried
while the nightly job writes), so closing the tab loses nothing. Skips live in the browser session
only. Undo takes back the curator's own last action (see store/review.py for why it deletes).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from aisec_radar.config import Settings
from aisec_radar.dashboard import common
from aisec_radar.dashboard.auth import check_secret
from aisec_radar.dashboard.common import md_escape
from aisec_radar.errors import AisecRadarError, DatabaseLocked
from aisec_radar.records import Label
from aisec_radar.store.labels import add_label
from aisec_radar.store.review import undo_label
from aisec_radar.taxonomy import Taxonomy

HOW_TO_SET = """Curator actions need a curator secret, stored hashed in the settings. To enable them:

1. Run `aisec-radar curator-secret` and type the secret curators will share; it prints a sha256 hash.
2. Put the hash in the settings, either in the environment of the dashboard:
   `export AISEC_RADAR_CURATOR_SECRET_HASH=<hash>`
   or in `aisec-radar.toml`: `curator_secret_hash = "<hash>"`
3. Restart `aisec-radar dashboard` and sign in here with your name and the secret.

Until then this page writes nothing; browsing the other pages needs no login."""


def _state() -> dict[str, Any]:
    ss = st.session_state
    ss.setdefault("review_history", [])  # [{"kind": "label"|"skip", "arxiv_id", "label_id"}]
    ss.setdefault("review_skipped", [])
    ss.setdefault("review_done", 0)
    return ss


def _login(s: Settings) -> str | None:
    ss = st.session_state
    if ss.get("curator"):
        c1, c2 = st.columns([4, 1])
        c1.caption("Signed in as " + md_escape(ss["curator"]))
        if c2.button("Sign out", key="r_signout"):
            del ss["curator"]
            st.rerun()
        return ss["curator"]
    with st.form("r_login"):
        name = st.text_input("Your name (stored with every label)", key="r_name")
        secret = st.text_input("Curator secret", type="password", key="r_secret")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        if name.strip() and check_secret(secret, s.curator_secret_hash):
            ss["curator"] = name.strip()
            st.rerun()
        st.error("Wrong curator secret or empty name: nothing will be saved until you sign in.")
    return None


def _write_label(s: Settings, tax: Taxonomy, item: dict[str, Any], curator: str, types: list[str],
                 role: str | None, modality: str | None, note: str, action: str) -> bool:
    try:
        tax.check_labels(types)
    except AisecRadarError as exc:
        st.error(str(exc))
        return False
    if not types:
        st.error("Pick at least one type (or other_aisec / not_relevant).")
        return False
    label = Label(arxiv_id=item["arxiv_id"], types=list(types), curator=curator, role=role, modality=modality,
                  note=note.strip() or None, source="dashboard", taxonomy_version=tax.version)
    try:
        label_id = common.write(s, lambda con: add_label(con, label))
    except DatabaseLocked:
        st.warning("The database stayed busy (the nightly job is writing). Your choice is NOT saved yet; "
                   "press the button again in a moment.")
        return False
    except AisecRadarError as exc:
        st.error(f"Could not save the label: {exc}")
        return False
    ss = _state()
    ss["review_history"].append({"kind": "label", "arxiv_id": item["arxiv_id"], "label_id": label_id})
    ss["review_done"] += 1
    ss["review_flash"] = f"{action} {item['arxiv_id']}: {', '.join(types)} (label {label_id})"
    return True


def _undo(s: Settings, curator: str) -> None:
    ss = _state()
    last = ss["review_history"][-1]
    if last["kind"] == "label":
        try:
            common.write(s, lambda con: undo_label(con, last["label_id"], curator))
        except DatabaseLocked:
            st.warning("The database stayed busy; nothing was undone. Try again in a moment.")
            return
        except AisecRadarError as exc:
            st.error(f"Could not undo: {exc}")
            ss["review_history"].pop()
            return
        ss["review_done"] = max(0, ss["review_done"] - 1)
        ss["review_flash"] = f"Undid the label on {last['arxiv_id']}; it is back in the queue."
    else:
        if last["arxiv_id"] in ss["review_skipped"]:
            ss["review_skipped"].remove(last["arxiv_id"])
        ss["review_flash"] = f"Undid the skip of {last['arxiv_id']}."
    ss["review_history"].pop()


def _show_item(item: dict[str, Any], tax: Taxonomy) -> None:
    from aisec_radar.dashboard.papers import _scores_chart, show_explanation

    st.subheader(md_escape(item["title"]))
    st.markdown(f"{md_escape(item['arxiv_id'])} · {md_escape(str(item['date'] or 'date unknown'))} · "
                f"{md_escape(item['primary_category'] or '')} · review priority "
                f"{(item['review_priority'] or 0):.2f}")
    st.markdown(md_escape(item["abstract"]))
    predicted = item["labels"] if item["relevance"] == "in_taxonomy" else [item["relevance"]]
    suggestion = (item["explanation"] or {}).get("suggestion")
    if suggestion:
        st.info("Review suggestion (" + md_escape(str(suggestion.get("reason"))) + " " + md_escape(
            str(suggestion.get("ref"))) + "): choose among " + md_escape(", ".join(suggestion.get("options") or []))
            + (" · " + md_escape(str(suggestion["note"])) if suggestion.get("note") else ""))
    st.markdown("**Classifier says:** " + md_escape(", ".join(common.type_name(tax, t) for t in predicted))
                + (f" · role {md_escape(item['role'])}" if item["role"] else "")
                + (f" · modality {md_escape(item['modality'])}" if item["modality"] else "")
                + (f" · confidence {item['confidence']:.2f}" if item["confidence"] is not None else ""))
    c1, c2 = st.columns(2)
    with c1:
        if item["type_scores"]:
            st.altair_chart(_scores_chart(item["type_scores"], tax), width="stretch")
    with c2:
        show_explanation(item["explanation"], tax)


def render() -> None:
    s = common.settings()
    tax = common.taxonomy(s)
    st.title("Review")
    common.require_db(s)
    common.sidebar_footer(s)
    remaining = common.read(s, "review_remaining", cache=False)
    if not s.curator_secret_hash:
        st.metric("Papers waiting for review", f"{remaining:,}")
        st.warning("No curator secret is configured, so this page cannot save labels.")
        st.markdown(HOW_TO_SET)
        return
    curator = _login(s)
    if curator is None:
        st.metric("Papers waiting for review", f"{remaining:,}")
        return
    ss = _state()

    flash = ss.pop("review_flash", None)
    if flash:
        st.success(md_escape(flash))
    done = ss["review_done"]
    st.progress(done / (done + remaining) if done + remaining else 1.0,
                text=f"{remaining:,} left to review · {done} done in this session")

    if ss["review_history"] and st.button("Undo last action", key="r_undo"):
        _undo(s, curator)
        st.rerun()

    queue = common.read(s, "review_queue", 1, tuple(ss["review_skipped"]), cache=False)
    if not queue:
        if ss["review_skipped"]:
            st.info(f"Nothing left except the {len(ss['review_skipped'])} paper(s) you skipped.")
            if st.button("Show skipped papers again", key="r_unskip"):
                ss["review_skipped"] = []
                st.rerun()
        else:
            st.success("The review queue is empty. Thank you!")
        return
    item = queue[0]
    aid = item["arxiv_id"]
    _show_item(item, tax)

    st.divider()
    predicted = item["labels"] if item["relevance"] == "in_taxonomy" else [item["relevance"]]
    roles = [None, *tax.roles]
    modalities = [None, *tax.modalities]
    c1, c2, c3 = st.columns(3)
    types = c1.multiselect("Type(s)", list(tax.label_ids), default=[t for t in predicted if t in tax.label_ids],
                           key=f"r_types_{aid}", format_func=lambda t: common.type_name(tax, t))
    role = c2.selectbox("Role", roles, index=roles.index(item["role"]) if item["role"] in roles else 0,
                        key=f"r_role_{aid}", format_func=lambda r: r or "—")
    modality = c3.selectbox("Modality", modalities,
                            index=modalities.index(item["modality"]) if item["modality"] in modalities else 0,
                            key=f"r_modality_{aid}", format_func=lambda m: m or "—")
    note = st.text_input("Note (optional)", key=f"r_note_{aid}")
    b1, b2, b3 = st.columns(3)
    if b1.button("Accept the classifier's label", key="r_accept", type="primary"):
        if _write_label(s, tax, item, curator, predicted, item["role"], item["modality"], note, "Accepted"):
            st.rerun()
    if b2.button("Save my correction", key="r_correct"):
        if _write_label(s, tax, item, curator, types, role, modality, note, "Corrected"):
            st.rerun()
    if b3.button("Skip", key="r_skip"):
        ss["review_skipped"].append(aid)
        ss["review_history"].append({"kind": "skip", "arxiv_id": aid, "label_id": None})
        st.rerun()
