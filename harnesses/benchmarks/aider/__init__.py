"""The Aider polyglot benchmark: aider itself edits Exercism exercises in six languages."""
