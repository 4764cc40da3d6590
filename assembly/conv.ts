// Kernels of this family are added here; see index.ts for the conventions.
