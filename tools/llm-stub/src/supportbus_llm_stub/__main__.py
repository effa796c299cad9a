from supportbus_llm_stub.server import main

main()
