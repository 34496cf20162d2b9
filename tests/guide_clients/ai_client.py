"""The integration guide's Python client, verbatim (app-integration-guide.md, "Python Integration")."""
# fmt: off
import requests
import json

class AIInfrastructureClient:
    def __init__(self, base_url="http://localhost:8001"):
        self.base_url = base_url
        self.session_id = None
    
    def query(self, text, modality=None, context=None):
        """Send a query to the AI infrastructure."""
        payload = {
            "query": text,
            "session_id": self.session_id,
            "modality": modality,
            "context": context or {}
        }
        
        response = requests.post(f"{self.base_url}/route", json=payload)
        result = response.json()
        
        if result["success"]:
            self.session_id = result["session_id"]
            return result["result"]
        else:
            raise Exception(f"Query failed: {result.get('error_message')}")
    
    def get_session_info(self):
        """Get current session information."""
        if not self.session_id:
            return None
        
        response = requests.get(f"{self.base_url}/sessions/{self.session_id}")
        return response.json()
    
    def end_session(self):
        """End the current session."""
        if self.session_id:
            requests.delete(f"{self.base_url}/sessions/{self.session_id}")
            self.session_id = None
