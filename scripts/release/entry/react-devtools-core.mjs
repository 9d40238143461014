// ink imports react-devtools-core only when DEV=true; the release leaves it out (stack-notes §2).
export default { initialize() {}, connectToDevTools() {} }
