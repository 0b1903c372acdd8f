"""The bulletin as mail clients show it: sent through the real SMTP test server (aiosmtpd) and read back.

Gmail and Outlook do not show inline SVG: the HTML body must carry its charts as PNG
images (multipart/related, cid:) and a text/plain part must carry the summary sentence.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
from pathlib import Path

from PIL import Image

from bantin import pipeline

from .conftest import REPORT_DATE


def test_the_mailed_bulletin_has_png_charts_and_a_plain_text_summary(bulletin_settings, smtp_server):
    settings = dataclasses.replace(bulletin_settings, mail_to=("bcd@quangninh.example",))
    rendered = pipeline.render(settings, REPORT_DATE, run_id="mail-test")
    document = json.loads(Path(rendered["json"]).read_text(encoding="utf-8"))
    pipeline.deliver(settings, REPORT_DATE, rendered, run_id="mail-test")

    [received] = smtp_server.messages
    message = received["message"]
    html = message.get_body(("html",)).get_content()
    assert "<svg" not in html.lower(), "mail clients do not show inline SVG"
    cids = re.findall(r'<img src="cid:([a-z]+)"', html)
    assert sorted(cids) == ["districts", "levels", "trend"]

    related = message.get_body(("related",))
    assert related is not None and related.get_content_type() == "multipart/related"
    images = {
        part["Content-ID"].strip("<>"): part for part in related.iter_parts() if part.get_content_type() == "image/png"
    }
    assert sorted(images) == sorted(cids)
    for name, part in images.items():
        data = part.get_content()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "PNG" and image.width >= 600, (name, image.size)
            # a real chart: not blank (more than white in the picture)
            assert len(image.convert("RGB").getcolors(maxcolors=1 << 20) or []) > 3, name

    text = message.get_body(("plain",)).get_content()
    assert " ".join(document["figures"]["headline"].split()) in " ".join(text.split())
    assert "Cấp độ dịch toàn tỉnh: cấp 1" in text and "Ca mắc mới: " in text

    [pdf] = [p for p in message.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert pdf.get_content()[:5] == b"%PDF-"
