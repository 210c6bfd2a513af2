"""Pretrained-model experiments of Jelassi et al. 2024 (Sec. 4): Pythia vs Mamba on copying text, phone-book lookup and SQuAD.

``python -m replications.repeat_after_me.pretrained run --config fig1c`` evaluates the models of a
figure (local folders or hub ids; needs ``pip install -e ".[pretrained]"`` and the weights), then
``report --config fig1c`` prints measured against published values.
"""
