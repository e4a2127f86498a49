"""Industry packs: content that specialises jaju for a field (assistants with their system
prompts, the documents they answer from, verified tools, synonym dictionaries, evaluation
sets). `jaju.packs.base` holds the generic model (`Pack`, `load_pack`, `install_knowledge`);
each pack is registered by a plugin through the `register_packs` hook (the law pack by the
default plugin `jaju.packs.law.plugin`); `jaju.packs.evaluation` runs evaluation sets."""
