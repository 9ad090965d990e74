"""modelyard.api.openai"""
