"""The custom actions (rasa-sdk), one module per concern: `verification` (the proof form),
`orders` (answers and changes), `confirmation` (yes/no to a proposal), `faq`, `handoff`.
rasa-sdk imports every module of this package and registers the actions it finds."""
