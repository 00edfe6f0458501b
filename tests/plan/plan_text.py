"""A minimal valid plan that lint tests extend (a module: conftest is not importable)."""

BASE = """\
version: "1"
events:
  - name: purchase
    properties:
      value: {type: number}
      order_id: {type: string}
"""
