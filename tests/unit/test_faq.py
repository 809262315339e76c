"""FAQ search with the real packaged models and real faiss."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.faq import service
from bot.faq.decide import calibration, decide, faq_model
from bot.faq.entries import FaqError, load_faq
from bot.faq.index import FaqIndex, Match, get_index
from bot.settings import get_settings

FAQ = load_faq()
OFF_TOPIC = [
    "what's the weather in rome tomorrow",
    "who wrote hamlet",
    "how do I cook pasta",
    "book me a flight to new york",
    "Wie spät ist es in Berlin?",
    "¿quién ganó el partido de ayer?",
]


@pytest.fixture(scope="module")
def index() -> FaqIndex:
    return get_index()


def test_every_entry_is_found_by_its_own_question(index):
    misses = [e.id for e in FAQ if index.search(e.question, 1)[0].entry.id != e.id]
    assert misses == []


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("¿Cuánto cuesta el envío a Chicago?", "shipping-cost"),
        ("¿Puedo devolver unos zapatos que no me quedan bien?", "return-policy"),
        ("Kann ich mit Kreditkarte zahlen?", "payment-methods"),
        ("Ich möchte mein Konto löschen", "delete-account"),
        ("Quels sont vos délais de livraison ?", "shipping-times"),
        ("Şifremi nasıl sıfırlarım?", "password-reset"),
    ],
)
def test_other_languages_find_the_right_entry(index, question, expected):
    assert expected in [m.entry.id for m in index.search(question, 3)]


def test_off_topic_questions_are_not_answered(index):
    kinds = [decide(index.search(q, 5), calibration(faq_model())).kind for q in OFF_TOPIC]
    assert "answer" not in kinds
    assert kinds.count("unknown") >= len(OFF_TOPIC) - 1


def test_the_answer_comes_in_the_shoppers_language():
    reply = service.reply_to("Wie lange dauert die Lieferung?")
    assert reply.kind == "answer" and reply.entry_id == "shipping-times"
    assert reply.language == "de" and "Werktagen" in reply.text
    english = service.reply_to("How long does delivery take?")
    assert english.text.startswith("We dispatch")


def test_sentence_transformers_model_loads_offline_from_its_package(tmp_path):
    minilm = FaqIndex.load_or_build(model="minilm", cache_dir=tmp_path)
    assert minilm.search("can I pay with my amex card", 1)[0].entry.id == "payment-methods"


def write_faq(path: Path, entries: str) -> Path:
    path.write_text(f"entries:\n{entries}", encoding="utf-8")
    return path


ENTRY = """  - id: {id}
    question: {question}
    answer: {answer}
"""


def test_the_index_is_rebuilt_when_the_faq_changes(tmp_path, monkeypatch):
    monkeypatch.setattr("bot.faq.index.CACHE_DIR", tmp_path / "cache")
    faq = write_faq(
        tmp_path / "faq.yml",
        ENTRY.format(id="opening-hours", question="When are you open?", answer="9 to 5."),
    )
    first = get_index(faq)
    assert get_index(faq) is first  # loaded once per process
    assert first.search("do you sell socks for hiking", 1)[0].entry.id == "opening-hours"
    write_faq(
        faq,
        ENTRY.format(id="opening-hours", question="When are you open?", answer="9 to 5.")
        + ENTRY.format(
            id="hiking-socks", question="Do you sell hiking socks?", answer="Yes, merino ones."
        ),
    )
    second = get_index(faq)
    assert second is not first
    assert second.search("do you sell socks for hiking", 1)[0].entry.id == "hiking-socks"
    assert len(list((tmp_path / "cache").glob("*.index.npy"))) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (ENTRY.format(id="a", question="Q?", answer="''"), "entry #1 (a), field 'answer'"),
        (ENTRY.format(id="Bad Id", question="Q?", answer="A."), "entry #1, field 'id'"),
        (ENTRY.format(id="a", question="Q?", answer="A.") * 2, "entry #2 (a), field 'id'"),
        ("  - id: a\n    question: Q?\n    answer: A.\n    colour: red\n", "field 'colour'"),
        ("  - id: a\n    question: [1\n", "not valid YAML"),
        (
            "  - id: a\n    question: Q?\n    answer: A.\n    answers: {english: A}\n",
            "field 'answers'",
        ),
    ],
)
def test_a_malformed_faq_names_file_entry_and_field(tmp_path, content, message):
    faq = write_faq(tmp_path / "broken.yml", content)
    with pytest.raises(FaqError) as error:
        load_faq(faq)
    assert str(faq) in str(error.value) and message in str(error.value)


def test_an_empty_faq_answers_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr("bot.faq.index.CACHE_DIR", tmp_path / "cache")
    faq = write_faq(tmp_path / "faq.yml", "")
    assert get_index(faq).search("how much is shipping", 5) == []
    assert service.reply_to("how much is shipping", faq).kind == "unknown"


def test_two_entries_about_as_close_are_offered_not_guessed():
    first, second = FAQ[0], FAQ[1]
    calibrated = calibration("e5-small+use-m3")
    close = [Match(first, 0.8, ""), Match(second, 0.8, "")]
    clear = [Match(first, 0.8, ""), Match(second, 0.72, "")]
    far = [Match(first, 0.60, ""), Match(second, 0.59, "")]
    assert decide(close, calibrated).kind == "suggest"
    assert decide(clear, calibrated).kind == "answer"
    assert decide(far, calibrated).kind == "unknown"
    # The same lead means more the higher the best score: a probability, monotone in both.
    assert calibrated.probability(0.9, 0.05) > calibrated.probability(0.8, 0.05)
    assert calibrated.probability(0.8, 0.08) > calibrated.probability(0.8, 0.02)


def test_the_thresholds_are_probabilities_a_shop_can_set(monkeypatch):
    clear = [Match(FAQ[0], 0.8, ""), Match(FAQ[1], 0.75, "")]
    assert decide(clear, calibration("e5-small+use-m3")).kind == "answer"
    monkeypatch.setenv("FAQ_ANSWER_THRESHOLD", "0.99")
    get_settings.cache_clear()
    strict = calibration("e5-small+use-m3")
    assert strict.answer == 0.99
    assert decide(clear, strict).kind == "suggest"
    get_settings.cache_clear()


def test_a_message_the_nlu_called_off_topic_is_offered_entries_never_answered():
    assert service.kind_for_intent("answer", True, "out_of_scope") == "suggest"
    assert service.kind_for_intent("answer", True, "faq") == "answer"
    assert service.kind_for_intent("unknown", True, "faq") == "suggest"
    reply = service.reply_to("how much is shipping?", intent="out_of_scope")
    assert reply.kind == "suggest" and reply.suggestions[0].id == "shipping-cost"


def test_an_entry_without_the_shoppers_language_is_said_to_be_in_english(tmp_path, monkeypatch):
    from actions.faq import ActionFaqAnswer
    from tests.conftest import Conversation

    monkeypatch.setattr("bot.faq.index.CACHE_DIR", tmp_path / "cache")
    folder = tmp_path / "faq"
    folder.mkdir()
    write_faq(
        folder / "faq.yml",
        ENTRY.format(
            id="gift-wrap", question="Do you gift wrap?", answer="Yes, for $4 at checkout."
        ),
    )
    monkeypatch.setenv("FAQ_PATH", str(folder))
    get_settings.cache_clear()
    convo = Conversation(metadata={"language": "tr"})
    convo.user("Do you gift wrap?", "faq", language="tr")
    convo.run(ActionFaqAnswer())
    assert "İngilizce" in convo.said and "Yes, for $4 at checkout." in convo.said
    assert "Bu yardımcı oldu mu?" in convo.said
