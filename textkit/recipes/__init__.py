"""End-to-end workflows that tie the layers together: pretraining a language model from a
recipe, generating from it, evaluating it. Commands and reproduce experiments call these."""
