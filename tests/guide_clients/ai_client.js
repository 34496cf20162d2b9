// The integration guide's JavaScript client and usage example, verbatim
// (app-integration-guide.md, "JavaScript/Node.js Integration"); only the base URL comes from ROUTER_URL.
class AIInfrastructureClient {
    constructor(baseUrl = 'http://localhost:8001') {
        this.baseUrl = baseUrl;
        this.sessionId = null;
    }
    
    async query(text, modality = null, context = {}) {
        const payload = {
            query: text,
            session_id: this.sessionId,
            modality: modality,
            context: context
        };
        
        const response = await fetch(`${this.baseUrl}/route`, {
            method: 'POST',
            headers: {
                'Content-Type': 'application/json'
            },
            body: JSON.stringify(payload)
        });
        
        const result = await response.json();
        
        if (result.success) {
            this.sessionId = result.session_id;
            return result.result;
        } else {
            throw new Error(`Query failed: ${result.error_message}`);
        }
    }
    
    async getSessionInfo() {
        if (!this.sessionId) return null;
        
        const response = await fetch(`${this.baseUrl}/sessions/${this.sessionId}`);
        return await response.json();
    }
    
    async endSession() {
        if (this.sessionId) {
            await fetch(`${this.baseUrl}/sessions/${this.sessionId}`, {
                method: 'DELETE'
            });
            this.sessionId = null;
        }
    }
}

// Usage example
const client = new AIInfrastructureClient(process.env.ROUTER_URL);

async function example() {
    try {
        // First query
        const response1 = await client.query("Write a Python function to sort a list");
        console.log("Response:", response1);
        
        // Follow-up query
        const response2 = await client.query("Add error handling to that function");
        console.log("Response:", response2);
        
        // Get session info
        const sessionInfo = await client.getSessionInfo();
        console.log("Session:", sessionInfo);
        
        // End session
        await client.endSession();
    } catch (error) {
        console.error("Error:", error.message);
    }
}

example();
