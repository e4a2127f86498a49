"""Tools: typed functions , MCP servers and OpenAPI services in one registry,
run only under the policy jaju enforces."""

from jaju.tools.model import Permissions, Tool, ToolContext, tool
from jaju.tools.policy import ToolPolicy
from jaju.tools.registry import ToolError, ToolRegistry

__all__ = ["Permissions", "Tool", "ToolContext", "ToolError", "ToolPolicy", "ToolRegistry", "tool"]
