#!/usr/bin/env python3
"""Count the public items of a crate, from rustdoc's JSON output.

Usage:
    scripts/public-items.py                       # builds nemo-user's JSON with nightly rustdoc
    scripts/public-items.py --crate uintr-sys     # another workspace crate
    scripts/public-items.py --json FILE.json      # count an existing JSON file
    scripts/public-items.py --list                # one line per item: kind, path(s)
    scripts/public-items.py --by-module           # counts per module

The JSON is made with
    cargo +nightly rustdoc -p CRATE --all-features -- -Z unstable-options --output-format json
(written to target/doc/CRATE_NAME.json). Items are counted when a user of the crate can name
them, i.e. they are reachable from the crate root:

* the walk starts at the root module and enters every public module and every public `use`
  (a re-export, glob or not) that points at an item of this crate; an item reachable at
  several paths is counted once (by rustdoc's item id); `#[doc(hidden)]` items still count,
  because they are public all the same;
* counted kinds: modules (the root included), structs, unions, enums, traits, functions,
  constants, statics, type aliases, macros; the enum variants; the public fields of structs
  and of struct-like variants (tuple fields too); the public associated items (methods,
  constants, types) of inherent impls; and the items declared in the crate's own traits
  (their methods, associated types and constants, once per trait, not per implementation);
* not counted: the `use` declarations themselves, trait implementations (`impl Display for
  X`, derives, auto and blanket impls: they add no name a user writes), and items of other
  crates that are re-exported (they are the other crate's surface).

`--list` also marks the items that are reachable at more than one path.
"""

import argparse
import collections
import json
import os
import subprocess
import sys

ITEM_KINDS = {
    "module",
    "struct",
    "union",
    "enum",
    "trait",
    "function",
    "constant",
    "static",
    "type_alias",
    "macro",
    "proc_macro",
    "trait_alias",
}


def kind_of(item):
    return next(iter(item["inner"]))


def is_public(item):
    # Enum variants and trait items carry "default" visibility: they are as public as
    # their parent, which the walk only enters when it is public.
    return item["visibility"] in ("public", "default")


class Counter:
    def __init__(self, doc):
        self.index = doc["index"]
        self.root = str(doc["root"])
        self.paths = collections.defaultdict(set)  # item id -> paths it is reachable at
        self.kinds = {}  # item id -> counted kind

    def item(self, item_id):
        return self.index.get(str(item_id))

    def local(self, item):
        return item is not None and item["crate_id"] == 0

    def count(self, item_id, path, kind):
        self.paths[str(item_id)].add(path)
        self.kinds[str(item_id)] = kind

    def walk_module(self, module_id, path, seen):
        if module_id in seen:
            return
        seen.add(module_id)
        module = self.item(module_id)
        self.count(module_id, path, "module")
        for child_id in module["inner"]["module"]["items"]:
            self.walk_named(child_id, path, seen)

    def walk_named(self, item_id, parent_path, seen):
        item = self.item(item_id)
        if not self.local(item) or not is_public(item):
            return
        kind = kind_of(item)
        if kind == "use":
            use = item["inner"]["use"]
            target = self.item(use["id"]) if use["id"] is not None else None
            if not self.local(target):
                return
            if use["is_glob"]:
                if kind_of(target) == "module":
                    for child_id in target["inner"]["module"]["items"]:
                        self.walk_named(child_id, parent_path, seen)
                elif kind_of(target) == "enum":
                    for variant_id in target["inner"]["enum"]["variants"]:
                        self.walk_member(variant_id, parent_path, seen)
                return
            self.walk_item(use["id"], target, f"{parent_path}::{use['name']}", seen)
            return
        if kind == "impl":
            return
        self.walk_item(item_id, item, f"{parent_path}::{item['name']}", seen)

    def walk_item(self, item_id, item, path, seen):
        kind = kind_of(item)
        if kind == "module":
            self.walk_module(str(item_id), path, seen)
            return
        if kind not in ITEM_KINDS:
            return
        self.count(item_id, path, kind)
        inner = item["inner"][kind]
        if kind == "struct":
            self.walk_fields(inner["kind"], path)
            self.walk_impls(inner["impls"], path)
        elif kind == "union":
            self.walk_fields({"plain": {"fields": inner["fields"]}}, path)
            self.walk_impls(inner["impls"], path)
        elif kind == "enum":
            for variant_id in inner["variants"]:
                self.walk_member(variant_id, path, seen)
            self.walk_impls(inner["impls"], path)
        elif kind == "trait":
            for member_id in inner["items"]:
                member = self.item(member_id)
                self.count(member_id, f"{path}::{member['name']}", kind_of(member))

    def walk_member(self, variant_id, parent_path, seen):
        variant = self.item(variant_id)
        path = f"{parent_path}::{variant['name']}"
        self.count(variant_id, path, "variant")
        self.walk_fields(variant["inner"]["variant"]["kind"], path)

    def walk_fields(self, kind, path):
        if not isinstance(kind, dict):
            return  # unit struct or variant
        if "plain" in kind:
            field_ids = kind["plain"]["fields"]
        elif "tuple" in kind:
            field_ids = [f for f in kind["tuple"] if f is not None]
        elif "struct" in kind:
            field_ids = kind["struct"]["fields"]
        else:
            return
        for field_id in field_ids:
            field = self.item(field_id)
            if field is not None and is_public(field):
                self.count(field_id, f"{path}.{field['name']}", "field")

    def walk_impls(self, impl_ids, path):
        for impl_id in impl_ids:
            impl = self.item(impl_id)
            if impl is None or not self.local(impl):
                continue
            inner = impl["inner"]["impl"]
            if inner["trait"] is not None or inner["is_synthetic"] or inner["blanket_impl"]:
                continue
            for member_id in inner["items"]:
                member = self.item(member_id)
                if member is not None and member["visibility"] == "public":
                    self.count(member_id, f"{path}::{member['name']}", kind_of(member))

    def run(self, crate_name):
        self.walk_module(self.root, crate_name, set())
        return self


def build_json(crate):
    cmd = [
        "cargo",
        "+nightly",
        "rustdoc",
        "-p",
        crate,
        "--all-features",
        "--",
        "-Z",
        "unstable-options",
        "--output-format",
        "json",
    ]
    subprocess.run(cmd, check=True, stdout=sys.stderr)
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--no-deps"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    return os.path.join(meta["target_directory"], "doc", crate.replace("-", "_") + ".json")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--crate", default="nemo-user", help="workspace crate (default nemo-user)")
    parser.add_argument("--json", help="count this rustdoc JSON file instead of building one")
    parser.add_argument("--list", action="store_true", help="list every counted item")
    parser.add_argument("--by-module", action="store_true", help="counts per top-level module")
    args = parser.parse_args()

    path = args.json or build_json(args.crate)
    with open(path) as f:
        doc = json.load(f)
    crate_name = args.crate.replace("-", "_")
    counter = Counter(doc).run(crate_name)

    items = sorted(counter.kinds, key=lambda i: min(counter.paths[i]))
    if args.list:
        for item_id in items:
            paths = sorted(counter.paths[item_id])
            extra = f"   (also {', '.join(paths[1:])})" if len(paths) > 1 else ""
            print(f"{counter.kinds[item_id]:<12} {paths[0]}{extra}")
    if args.by_module:
        per_module = collections.Counter()
        for item_id in items:
            parts = min(counter.paths[item_id]).split(".")[0].split("::")
            per_module["::".join(parts[:2])] += 1
        for module, n in sorted(per_module.items()):
            print(f"{n:5}  {module}")
    per_kind = collections.Counter(counter.kinds.values())
    multi = sum(1 for i in items if len(counter.paths[i]) > 1)
    print(
        f"{len(items)} public items in {crate_name} "
        f"({', '.join(f'{k} {n}' for k, n in sorted(per_kind.items()))}); "
        f"{multi} reachable at more than one path"
    )


if __name__ == "__main__":
    main()
