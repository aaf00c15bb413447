// Report charts: <canvas data-chart='{"type":"bar","labels":[…],"datasets":[{"label":…,"data":[…]}]}'>
// is drawn with Chart.js, bundled here (no CDN). Fonts follow the page's system fonts.
import {
  ArcElement, BarController, BarElement, CategoryScale, Chart, DoughnutController, Legend, LinearScale,
  LineController, LineElement, PointElement, Title, Tooltip,
} from "chart.js";

Chart.register(ArcElement, BarController, BarElement, CategoryScale, DoughnutController, Legend, LinearScale,
  LineController, LineElement, PointElement, Title, Tooltip);

const COLORS = ["#b4282d", "#2e7d32", "#1565c0", "#8a5a00", "#6a1b9a", "#00838f", "#646a73"];

function draw(canvas) {
  let spec;
  try {
    spec = JSON.parse(canvas.dataset.chart);
  } catch (err) {
    return null;
  }
  const datasets = spec.datasets.map((set, i) => ({
    ...set,
    backgroundColor: spec.type === "doughnut" ? COLORS : COLORS[i % COLORS.length],
    borderColor: spec.type === "line" ? COLORS[i % COLORS.length] : undefined,
  }));
  const chart = new Chart(canvas, {
    type: spec.type,
    data: { labels: spec.labels, datasets },
    options: {
      responsive: true,
      animation: false,
      plugins: { legend: { display: datasets.length > 1 || spec.type === "doughnut" }, title: { display: !!spec.title, text: spec.title } },
      scales: spec.type === "doughnut" ? {} : { y: { beginAtZero: true, ticks: { precision: 0 }, max: spec.max } },
    },
  });
  canvas.dataset.rendered = "true";
  return chart;
}

document.querySelectorAll("canvas[data-chart]").forEach(draw);
window.GovFlowCharts = { draw };
