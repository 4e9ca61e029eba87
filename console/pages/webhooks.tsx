export function WebhooksPage() {

  return <section><h1>Not built yet</h1></section>;
}
