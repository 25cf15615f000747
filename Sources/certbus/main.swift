print("certbus")
