-- wrk: POST the JSON body in $BODY with the bearer token in $TOKEN.
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer " .. os.getenv("TOKEN")
