"""A user agent in a few lines: loaded with `agent = "shouting:Shouting"`."""

from agent_host import content_text


class Shouting:
    def __init__(self, config):
        self.model = config.model

    async def chat(self, content):
        for word in content_text(content).split():
            yield word.upper() + " "
