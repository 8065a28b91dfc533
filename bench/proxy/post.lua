-- wrk script: a small non-streaming chat completion, as an OpenAI SDK would send it.
-- BENCH_KEY (the bearer key) and BENCH_MODEL come from the environment.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_KEY") or "none")
wrk.body = '{"model":"' .. (os.getenv("BENCH_MODEL") or "gpt-4o-mini") ..
    '","messages":[{"role":"user","content":"Say hello in one short sentence."}],"max_tokens":16}'
