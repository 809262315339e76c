"""A FAQ answer does not encode the message twice (issue #19): the action server's FAQ search
takes the vectors Rasa's featurizer put into the parse data, and only when they fit.

The parse data comes from the real featurizer (rasa_components/sentence_featurizer.py, with
config.yml's encoders) run in Rasa's environment, one message at a time as Rasa parses."""

from __future__ import annotations

import base64
import json
import subprocess
from functools import cache
from typing import Any

import numpy as np
import pytest
import yaml

from actions.faq import ActionFaqAnswer
from bot.faq.encoders import (
    PARSE_KEY,
    FusedEncoder,
    get_encoder,
    parse_vectors,
    query_vector,
    text_digest,
)
from bot.faq.index import get_index
from bot.settings import PROJECT_ROOT
from tests.conftest import Conversation

RASA_PYTHON = PROJECT_ROOT / ".venv-rasa" / "bin" / "python"
QUESTIONS = {
    "en": "do you ship to canada?",
    "tr": "Kanada'ya gönderim yapıyor musunuz?",
    "he": "מה מדיניות ההחזרות שלכם?",
}
OTHER = "can I pay with paypal?"
WITH_NUMBER = "will order 10423 be shipped to canada?"

FEATURIZE = """
import json, sys
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message
from rasa_components.sentence_featurizer import SentenceEmbeddingFeaturizer as F

given = json.load(sys.stdin)
tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
featurizer = F({**F.get_default_config(), **given["config"]}, "featurizer")
parsed = []
for text in given["texts"]:
    message = Message.build(text=text)
    tokenizer.process([message])
    featurizer.process([message])
    parsed.append(message.as_dict(only_output_properties=True))
print(json.dumps(parsed))
"""


@cache
def rasa_parse(*texts: str) -> list[dict]:
    """What Rasa's NLU pipeline outputs for each text (its tokenizer and our featurizer, as
    config.yml configures it)."""
    pipeline = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text())["pipeline"]
    step = next(s for s in pipeline if "sentence_featurizer" in s["name"])
    config = {key: value for key, value in step.items() if key != "name"}
    return in_rasa(FEATURIZE, {"config": config, "texts": list(texts)})


def in_rasa(script: str, given: Any = None) -> Any:
    """Run `script` on Rasa's interpreter (.venv-rasa), `given` as JSON on its stdin; the JSON
    its last line prints."""
    done = subprocess.run(
        [str(RASA_PYTHON), "-c", script],
        input=json.dumps(given),
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={"PYTHONPATH": str(PROJECT_ROOT), "RASA_TELEMETRY_ENABLED": "false"},
        timeout=300,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def parsed() -> dict[str, dict]:
    texts = (*QUESTIONS.values(), OTHER, WITH_NUMBER)
    return dict(zip(texts, rasa_parse(*texts), strict=True))


@pytest.fixture(scope="module")
def index():
    return get_index()


def test_rasa_outputs_each_encoders_vector_for_the_text(parsed):
    for text, parse in parsed.items():
        known = parse_vectors(parse, text)
        if text == WITH_NUMBER:
            continue  # another text was encoded: below
        assert sorted(known) == ["e5-small", "use-m3"]
        assert known["e5-small"].shape == (384,) and known["use-m3"].shape == (512,)
        # Compact on the wire: base64 of float32, about 4.8 kB for both.
        assert len(json.dumps(parse[PARSE_KEY])) < 5000


@pytest.mark.parametrize("language", sorted(QUESTIONS))
def test_rasas_vectors_give_the_same_matches_as_encoding_here(parsed, index, language):
    question = QUESTIONS[language]
    known = parse_vectors(parsed[question], question)
    assert known, "the parse data carries no vectors for the question"
    encoded = index.search(question, 5)
    reused = index.search(question, 5, known=known)
    assert [m.entry.id for m in reused] == [m.entry.id for m in encoded]
    for mine, theirs in zip(reused, encoded, strict=True):
        assert mine.score == pytest.approx(theirs.score, abs=1e-4)
        assert mine.phrasing == theirs.phrasing
    # The fused vector is built as FusedEncoder.encode builds it, Hebrew rule included.
    built = query_vector(index.encoder, question, known)
    np.testing.assert_allclose(built, index.encoder.encode([question], "query"), atol=1e-4)


def test_the_search_uses_the_vectors_it_is_given(parsed, index):
    """Vectors of another question, stamped as this one's, decide the answer: so they are used
    (and never recomputed)."""
    question = QUESTIONS["en"]
    other = parsed[OTHER]
    stamped = {PARSE_KEY: {**other[PARSE_KEY], "sha256": text_digest(question)}}
    assert index.search(question, 1)[0].entry.id == "international-shipping"
    found = index.search(question, 1, known=parse_vectors(stamped, question))
    assert found[0].entry.id == "payment-methods"


def test_vectors_of_another_text_are_not_used(parsed, index):
    question = QUESTIONS["en"]
    assert parse_vectors(parsed[OTHER], question) == {}
    # Rasa encodes every long number as the same one: not the text the FAQ searches.
    assert parse_vectors(parsed[WITH_NUMBER], WITH_NUMBER) == {}
    assert parse_vectors({}, question) == {} and parse_vectors(None, question) == {}


def test_vectors_of_another_encoder_or_dimension_fall_back_to_encoding(parsed, index):
    question = QUESTIONS["en"]
    other = parsed[OTHER][PARSE_KEY]
    stamp = text_digest(question)
    e5, use = other["vectors"]["e5-small"], other["vectors"]["use-m3"]
    unit = np.ones(100, dtype="<f4") / 10.0
    wrong = [
        {"e5-base": e5, "use-m4": use},  # other names
        {"e5-small": use, "use-m3": e5},  # swapped: the dimensions do not match
        {"e5-small": base64.b64encode(unit.tobytes()).decode()},  # a unit vector, 100 wide
        {"e5-small": base64.b64encode((unit * 3).tobytes()).decode()},  # not unit length
        {"e5-small": "not base64!", "use-m3": 42},
    ]
    expected = index.encoder.encode([question], "query")
    for vectors in wrong:
        known = parse_vectors({PARSE_KEY: {"sha256": stamp, "vectors": vectors}}, question)
        np.testing.assert_allclose(query_vector(index.encoder, question, known), expected)
        assert index.search(question, 1, known=known)[0].entry.id == "international-shipping"


@pytest.mark.parametrize("language", ["en", "he"])
def test_another_weight_or_model_gets_what_encoding_would_give(parsed, language):
    """The vectors are each encoder's own; the weight, the unread-script rule and the model
    are the action server's, so any FAQ_MODEL gets exactly what encoding would give: its
    encoders' vectors when Rasa has them, else its own encoding."""
    question = QUESTIONS[language]
    known = parse_vectors(parsed[question], question)
    half = FusedEncoder(get_encoder("e5-small"), get_encoder("use-m3"), weight=0.5)
    for encoder in (half, get_encoder("e5-small"), get_encoder("use-m3")):
        np.testing.assert_allclose(
            query_vector(encoder, question, known), encoder.encode([question], "query"), atol=1e-4
        )
    # A model Rasa does not run: 384 wide like e5, and still encoded here.
    minilm = get_encoder("minilm")
    np.testing.assert_array_equal(
        query_vector(minilm, question, known), minilm.encode([question], "query")
    )


def test_the_faq_action_answers_from_rasas_vectors(parsed, faq_dir):
    """actions/faq.py passes the vectors of the message it answers, and only those."""
    question = QUESTIONS["en"]
    stamped = {**parsed[OTHER][PARSE_KEY], "sha256": text_digest(question)}
    answers = {}
    for name, vectors in {"own": parsed[question][PARSE_KEY], "stamped": stamped}.items():
        conversation = Conversation(f"vectors-{name}")
        conversation.user(question, intent="faq")
        conversation.latest[PARSE_KEY] = vectors
        conversation.run(ActionFaqAnswer())
        outcomes = [m["custom"]["outcome"] for m in conversation.sent if m.get("custom")]
        answers[name] = [o.get("faq_id") for o in outcomes if o.get("outcome") == "faq_answer"]
    assert answers == {"own": ["international-shipping"], "stamped": ["payment-methods"]}


# --- Rasa checks the schemas of the actions' and NLG answers once --------------------------

SCHEMAS = """
import json
from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.core.nlg.callback import CallbackNaturalLanguageGenerator, nlg_response_format_spec
from rasa.shared.exceptions import RasaException

import rasa_components.annotated_rest  # what loading the channel does

checked = []
schemas = (RemoteAction.action_response_format_spec(), nlg_response_format_spec())
for cls in {validator_for(schema) for schema in schemas}:
    original = cls.check_schema
    cls.check_schema = classmethod(lambda c, s, o=original: checked.append(1) or o(s))
action = RemoteAction("action_faq_answer", None)
nlg = CallbackNaturalLanguageGenerator
answer = {"events": [{"event": "slot", "name": "faq_misses", "value": 0}],
          "responses": [{"text": "Yes, we ship to Canada.", "buttons": []}]}
response = {"text": "Hi!", "buttons": [{"title": "Yes", "payload": "/affirm"}]}
found = {"valid": [], "refused": []}
for _ in range(5):
    found["valid"] += [action._validate_action_result(answer), nlg.validate_response(response)]
    found["valid"].append(nlg.validate_response(None))
found["schema_checks"] = len(checked)
for check, bad in ((action._validate_action_result, {"events": "none"}),
                   (nlg.validate_response, {"text": 42})):
    try:
        check(bad)
    except (ValidationError, RasaException) as error:
        found["refused"].append(str(error).split(".")[1].strip())
print(json.dumps(found))
"""


def test_rasa_checks_each_schema_once_and_still_validates_every_answer():
    found = in_rasa(SCHEMAS)
    assert found["valid"] == [True] * 15
    assert found["refused"] == [
        "Failed to validate Action server response from API, make sure your response from "
        "the Action endpoint is valid",
        "Failed to validate NLG response from API, make sure your response from the NLG "
        "endpoint is valid",
    ]
    # 15 valid answers, no check of the schema (Rasa's own `validate` checks it every time).
    assert found["schema_checks"] == 0
