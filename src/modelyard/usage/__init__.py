"""modelyard.usage"""
