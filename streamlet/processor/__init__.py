"""The processing model: the Processor protocol and the ProcessorContext it is given."""

from streamlet.processor.api import Processor, ProcessorContext, Punctuation, PunctuationType

__all__ = ["Processor", "ProcessorContext", "Punctuation", "PunctuationType"]
