"""A module with a syntax error: importing it must give a readable error."""


class Broken:
    def chat(self, content)
        return "never"
