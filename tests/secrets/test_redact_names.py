"""Keys with no prefix of their own (W&B: 40 hex, Kaggle: 32 hex) are found next to their names in any case,
as people and tools write them: WANDB_API_KEY, WandB, Kaggle, KAGGLE_KEY; a space is a separator too.

Found by bench/mutation.py: the W&B rule with ``folded=False`` (case-sensitive) survived every test.
"""

from __future__ import annotations

import pytest

from envcapture.manifest.redact import redact_text

W_AND_B = "3f5a9c0d1e2b4a6978c8d7e6f5a4b3c2d1e0f9a8"
KAGGLE = "9c0d1e2b4a6978c8d7e6f5a4b3c2d1e0"


@pytest.mark.parametrize("text, rule", [
    (f"export WANDB_API_KEY {W_AND_B}", "W&B API key"),
    (f"WandB key: {W_AND_B}", "W&B API key"),
    (f'{{"WANDB": "{W_AND_B}"}}', "W&B API key"),
    (f"wandb login {W_AND_B}", "W&B API key"),
    (f"Kaggle key {KAGGLE}", "Kaggle API key"),
    (f"KAGGLE_KEY {KAGGLE}", "Kaggle API key"),
])
def test_a_key_next_to_its_name_is_redacted_whatever_the_case(text, rule):
    found = []
    cleaned = redact_text(text, found)
    assert W_AND_B not in cleaned and KAGGLE not in cleaned
    assert "REDACTED" in cleaned and rule in found


@pytest.mark.parametrize("text", [
    f"commit {W_AND_B}",  # a git commit id is 40 hex too: without the name it stays
    f"md5 {KAGGLE}",
])
def test_hex_without_the_name_is_kept(text):
    assert redact_text(text, []) == text
