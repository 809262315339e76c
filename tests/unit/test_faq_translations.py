"""FAQ entries in other languages: `translations/<code>.yml` beside the FAQ files."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.faq.entries import FaqError, load_faq

ENTRIES = """
entries:
  - id: gift-cards
    question: Do you sell gift cards?
    alternatives: ["Can I buy a voucher?"]
    answer: Yes, from $25 to $500, by email.
    answers:
      es: Sí, de 25 a 500 $, por correo.
"""


def faq_folder(tmp_path: Path, **translations: str) -> Path:
    (tmp_path / "faq.yml").write_text(ENTRIES)
    (tmp_path / "translations").mkdir()
    for code, text in translations.items():
        (tmp_path / "translations" / f"{code}.yml").write_text(text)
    return tmp_path


def test_a_translation_answers_titles_and_is_searched(tmp_path):
    folder = faq_folder(
        tmp_path,
        tr="""
language: tr
entries:
  gift-cards:
    question: Hediye kartı satıyor musunuz?
    alternatives: ["Hediye çeki alabilir miyim?"]
    answer: Evet, 25 $ ile 500 $ arası, e-postayla gönderilir.
""",
    )
    (entry,) = load_faq(folder)
    assert entry.answer_in("tr").startswith("Evet") and entry.question_in("tr").startswith("Hediye")
    assert "Hediye çeki alabilir miyim?" in entry.phrasings
    assert "Can I buy a voucher?" in entry.phrasings
    # Without a translation: the older per-language answer, then English.
    assert entry.answer_in("es").startswith("Sí") and entry.question_in("es") == entry.question
    assert entry.answer_in("ko") == entry.answer and entry.answer_in(None) == entry.answer


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("language: tr\nentries:\n  gift-card:\n    question: a\n    answer: b\n", "no entry"),
        ("language: Turkish\nentries: {}\n", "language code"),
        ("language: tr\nentries:\n  gift-cards:\n    question: a\n", "answer"),
        (
            "language: tr\nentries:\n  gift-cards:\n    question: a\n    answer: b\n    x: c\n",
            "question, alternatives and answer only",
        ),
        ("language: tr\nentries: [a, b]\n", "entry ids"),
    ],
)
def test_a_malformed_translation_names_file_and_problem(tmp_path, text, problem):
    folder = faq_folder(tmp_path, tr=text)
    with pytest.raises(FaqError, match=problem) as raised:
        load_faq(folder)
    assert "tr.yml" in str(raised.value)
