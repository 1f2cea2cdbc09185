"""Which package index a local version label implies (used by freeze to record it and by the kit's lock).

pip records no index for an install (PEP 710 was not merged), but PyTorch's builds say it in their local
version: `torch==2.6.0+cu126` can only have come from https://download.pytorch.org/whl/cu126.
"""

from __future__ import annotations

import re
from typing import Optional

PYTORCH_INDEX = "https://download.pytorch.org/whl/"
# Local version labels that only the PyTorch index serves (torch, torchvision, torchaudio, triton, ...).
PYTORCH_LABEL = re.compile(r"^(cu[0-9]{2,3}|cpu|rocm[0-9]+(\.[0-9]+)*|xpu)$")


def implied_index(label: Optional[str]) -> Optional[str]:
    if label and PYTORCH_LABEL.match(label):
        return PYTORCH_INDEX + label
    return None
