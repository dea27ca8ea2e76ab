"""Differentially private (DP-SGD) fine-tuning of causal LMs, with accounting and an empirical audit.

Modules, one job each:

- ``data``: load and validate a jsonl/txt dataset, fingerprint it, tokenize it.
- ``accounting``: epsilon from four accountants (Opacus PRV/RDP, dp-accounting PLD/RDP)
  behind one registry, and the agreement check that guards every report.
- ``model_io``: load a Hugging Face model directory, hash it, make it Opacus-ready
  (untie embeddings, LoRA via peft, layer validation).
- ``trainer``: the Opacus training loop (Poisson sampling, BatchMemoryManager,
  checkpoint/resume that keeps the accountant's history).
- ``empirical``: canaries, Secret Sharer exposure, membership-inference AUC and the
  one-run lower bound of Steinke, Nasr and Jagielski (2023).
- ``audit_run``: ``privacy audit``: train with canaries and judge the accountant.
- ``report``: the Ed25519-signed privacy report and the audit-log record.
- ``ddp``: multi-process training through Opacus DPDDP.
- ``cli``: the ``privacy train`` and ``privacy audit`` commands.
"""
