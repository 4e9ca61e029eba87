export function AnalyticsPage({ linkId }: { linkId: string | null }) {
  void linkId;
  return <section><h1>Not built yet</h1></section>;
}
