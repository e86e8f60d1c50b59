"""One validation style: the server's messages under the fields, never the browser's bubbles
(which speak the browser's language, not the page's). Every form of every template says
``novalidate``; a form added without it fails here."""

from __future__ import annotations

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[2] / "luotsi" / "web" / "templates"
# A form's opening tag, up to its ">" (a ">" inside a Jinja expression or tag is not its end).
FORM_TAG = re.compile(r"<form\b(?:\{\{.*?\}\}|\{%.*?%\}|[^>])*>", re.S)


def test_every_form_leaves_validation_to_the_server() -> None:
    forms = [
        (str(path.relative_to(TEMPLATES)), tag)
        for path in TEMPLATES.rglob("*.html")
        for tag in FORM_TAG.findall(path.read_text(encoding="utf-8"))
    ]
    assert len(forms) > 100  # the templates were found and read
    assert [(path, tag) for path, tag in forms if "novalidate" not in tag] == []
