"""FAQ entries added by staff (from an FAQ gap): saved in their own file in the FAQ folder
and answered at once, without a retrain."""

from __future__ import annotations

import shutil

import pytest

from bot.faq import service
from bot.faq.added import ADDED_FILE, add_entry
from bot.faq.entries import DEFAULT_FAQ, FaqError, load_faq
from bot.settings import get_settings


@pytest.fixture
def faq_dir(tmp_path, monkeypatch):
    folder = tmp_path / "faq"
    shutil.copytree(DEFAULT_FAQ, folder)
    (folder / ADDED_FILE).unlink(missing_ok=True)
    monkeypatch.setenv("FAQ_PATH", str(folder))
    get_settings.cache_clear()
    return folder


def test_a_new_entry_is_answered_at_once(faq_dir):
    question = "Can you repair my torn jacket?"
    assert service.reply_to(question).kind != "answer"
    entry = add_entry(
        question,
        "Yes: our repair service mends zips, seams and tears. Email repairs@northwind.example.",
        ["do you fix broken zippers on coats?", "", "Can you repair my torn jacket?"],
    )
    assert entry.id == "repair-torn-jacket"
    assert entry.alternatives == ("do you fix broken zippers on coats?",)  # blanks, repeats out
    reply = service.reply_to("do you fix broken zippers on coats?")
    assert reply.kind == "answer" and reply.entry_id == "repair-torn-jacket"
    assert "repair service" in reply.text
    # The hand-edited file is untouched; the new entry has its own file and a free id.
    assert (faq_dir / "faq.yml").read_text() == (DEFAULT_FAQ / "faq.yml").read_text()
    again = add_entry("Can you repair my torn jacket?", "Yes, see above.", [])
    assert again.id == "repair-torn-jacket-2"
    ids = [e.id for e in load_faq(faq_dir)]
    assert {"repair-torn-jacket", "repair-torn-jacket-2"} <= set(ids) and len(ids) == len(set(ids))


def test_a_bad_entry_is_refused_and_nothing_is_written(faq_dir):
    with pytest.raises(ValueError, match="answer"):
        add_entry("Can I rent a tent?", "   ", [])
    with pytest.raises(ValueError, match="question"):
        add_entry("", "An answer.", [])
    with pytest.raises(ValueError, match="question"):
        add_entry("x" * 301, "An answer.", [])
    assert not (faq_dir / ADDED_FILE).exists()


def test_a_single_faq_file_cannot_take_new_entries(faq_dir, monkeypatch):
    monkeypatch.setenv("FAQ_PATH", str(faq_dir / "faq.yml"))
    get_settings.cache_clear()
    with pytest.raises(FaqError, match="folder"):
        add_entry("Can I rent a tent?", "Not yet.", [])
