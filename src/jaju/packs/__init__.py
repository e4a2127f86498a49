"""Industry packs: content that specialises jaju for a field (assistants with their system
prompts, the documents they answer from, verified tools, synonym dictionaries, evaluation
sets). Each pack is a subpackage whose `pack()` returns a plain description of that content;
the plugin hook that registers packs is not part of this package."""
