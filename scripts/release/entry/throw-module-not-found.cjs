// Stands in for optional native add-ons (bufferutil, utf-8-validate) and node-fetch's optional
// `encoding`: their importers require() them inside try/catch and fall back when the require throws.
const error = new Error('Cannot find module (left out of the mesh-trace release bundle)')
error.code = 'MODULE_NOT_FOUND'
throw error
