// placeholder so the test project has an input
export {};
