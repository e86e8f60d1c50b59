"""Uploaded images (staff photos, the firm's invoice logo): checked, decoded and saved anew.

Only JPEG, PNG and WebP of at most :data:`MAX_MEGAPIXELS` are accepted (the size is read from
the header, before anything is decoded); the image is then decoded in full (so a corrupt file
is refused on upload, not when someone views it), turned upright, shrunk and saved anew: nothing
of the uploaded bytes (EXIF location, embedded scripts) reaches a visitor or an invoice.
Decoding is seconds of CPU: :func:`reencode_in_thread` runs it off the event loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageOps, UnidentifiedImageError

from luotsi.platform.errors import Invalid
from luotsi.platform.i18n import gettext as _

ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP"}
MAX_MEGAPIXELS = 40  # a 5 MB PNG can claim 12000 x 12000 pixels: 2 GB once decoded
MAX_PIXELS = MAX_MEGAPIXELS * 1_000_000
# Pillow's own guard for every image this process opens (it refuses above twice this); the
# check below refuses above it from the header, before anything is decoded.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# Two decodings at a time, never on the event loop.
_IMAGE_THREADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="image")


@dataclass(frozen=True)
class ImageRules:
    """What one kind of upload becomes, and what its refusals say (translated when raised).

    ``output`` JPEG flattens to RGB (photos); PNG keeps transparency (logos on white paper or
    coloured e-mails alike).
    """

    field: str  # the form field errors are reported on
    output: Literal["JPEG", "PNG"]
    max_side: int  # pixels, the longest side of the stored image
    max_bytes: int  # of the upload
    missing: str  # N_ message: nothing was uploaded
    too_large: str  # N_ message: over max_bytes


def reencode(data: bytes, rules: ImageRules) -> bytes:
    """The checked, re-encoded image, or :class:`Invalid` on ``rules.field`` saying why not.

    Blocking: see :func:`reencode_in_thread`.
    """
    too_many_pixels = _("The image has too many pixels; the limit is %(n)d megapixels.") % {
        "n": MAX_MEGAPIXELS
    }
    if not data:
        raise Invalid.field(rules.field, _(rules.missing))
    if len(data) > rules.max_bytes:
        raise Invalid.field(rules.field, _(rules.too_large))
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in ACCEPTED_FORMATS:
                raise Invalid.field(rules.field, _("Upload a JPEG, PNG or WebP image."))
            width, height = probe.size
            if width * height > MAX_PIXELS:
                raise Invalid.field(rules.field, too_many_pixels)
            probe.verify()
        with Image.open(io.BytesIO(data)) as uploaded:
            uploaded.load()
            upright = ImageOps.exif_transpose(uploaded)
            out = io.BytesIO()
            if rules.output == "JPEG":
                image = upright.convert("RGB")
                image.thumbnail((rules.max_side, rules.max_side))
                image.save(out, format="JPEG", quality=85, optimize=True)
            else:
                has_alpha = "A" in upright.getbands() or "transparency" in upright.info
                image = upright.convert("RGBA" if has_alpha else "RGB")
                image.thumbnail((rules.max_side, rules.max_side))
                image.save(out, format="PNG", optimize=True)
    except Invalid:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Invalid.field(rules.field, too_many_pixels) from None
    except UnidentifiedImageError:
        raise Invalid.field(rules.field, _("Upload a JPEG, PNG or WebP image.")) from None
    except (OSError, SyntaxError, ValueError):
        raise Invalid.field(
            rules.field, _("The image file is damaged; try another file.")
        ) from None
    return out.getvalue()


async def reencode_in_thread(data: bytes, rules: ImageRules) -> bytes:
    """:func:`reencode` in an image thread; the event loop serves other requests meanwhile.

    The caller's context travels along, so refusals are in the request's language.
    """
    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(
        _IMAGE_THREADS, context.run, reencode, data, rules
    )
