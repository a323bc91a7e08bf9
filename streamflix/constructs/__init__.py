"""Constructs: one module per concept, each adding resources for its config model.

A construct takes a StackTemplate, its config model and the handles of what it
builds on (the network, a key, a security group) and returns a small handle of
its own. Logical IDs are module-level constants: they are a public contract,
since changing one makes CloudFormation replace the resource.
"""
